import HabarCore
import Testing

/// Real-looking replies to "are you safe? 1 / АМАН / ДА — yes, 2 / КӨМЕК / ПОМОЩЬ — help",
/// in Kazakh, Russian, English and Latin-script Kazakh, with typos and mixed scripts, and
/// what each must mean. Anything a person could read two ways must be `unclear` (a case).
let replyExamples: [(String, ReplyMeaning)] = [
    // Digits, as the request offers them
    ("1", .safe), ("2", .needsHelp), (" 1 ", .safe), ("1.", .safe), ("1!", .safe), ("2!!!", .needsHelp), ("«1»", .safe),
    ("1 - аман", .safe), ("2 көмек", .needsHelp), ("1 да", .safe), ("2 помогите", .needsHelp), ("1 safe", .safe), ("2 help", .needsHelp),
    ("1 2", .unclear), ("12", .unclear), ("3", .unclear), ("0", .unclear),
    // Kazakh, Cyrillic
    ("аман", .safe), ("Аман", .safe), ("АМАН", .safe), ("аманмын", .safe), ("Аманмын!", .safe), ("амандық", .safe),
    ("біз аманбыз", .safe), ("Бәріміз аманбыз, рақмет", .safe), ("жақсы", .safe), ("жақсымын", .safe), ("Бәрі жақсы", .safe),
    ("қауіпсізбін", .safe), ("Мен қауіпсіз жердемін", .safe), ("қауіпсіздемін", .safe), ("иә", .safe), ("Иә, аманмын", .safe),
    ("Сәлеметсіз бе, аманмын", .safe), ("аман рахмет", .safe), ("көмек керек емес, аманмын", .safe), ("Көмек керек емес", .safe),
    ("көмек", .needsHelp), ("КӨМЕК", .needsHelp), ("Көмек керек!", .needsHelp), ("көмектесіңіз", .needsHelp), ("Көмектесіңдер!!!", .needsHelp),
    ("Жәрдем керек", .needsHelp), ("құтқарыңыз", .needsHelp), ("қауіпсіз емеспін", .needsHelp), ("Қауіпсіз емес", .needsHelp),
    ("аман емес", .needsHelp), ("Жараландым, көмек керек", .needsHelp), ("мен қауіпте, көмектесіңіз", .needsHelp),
    // Kazakh without Kazakh letters (Russian keyboard) and typos
    ("аманмин", .safe), ("жаксы", .safe), ("жаксымын", .safe), ("кауипсизбин", .safe), ("комек", .needsHelp), ("комек керек", .needsHelp),
    ("коментесиниз", .needsHelp), ("комектесиниз", .needsHelp), ("амаанмын", .safe), ("аманмы", .safe), ("кауіпсізбін", .safe),
    ("көмеек", .needsHelp), ("комекк", .needsHelp),
    // Kazakh in Latin letters
    ("aman", .safe), ("Aman", .safe), ("amanmyn", .safe), ("amanmin", .safe), ("Aman, rahmet", .safe), ("zhaksy", .safe), ("jaqsy", .safe),
    ("jaksymyn", .safe), ("qauipsizbin", .safe), ("kauipsizbin", .safe), ("komek", .needsHelp), ("kömek", .needsHelp), ("komek kerek", .needsHelp),
    ("Komektesiniz", .needsHelp), ("qomek kerek", .needsHelp), ("komek kerek emes", .safe), ("iä", .safe), ("amanbyz barimiz", .safe),
    // Russian
    ("да", .safe), ("Да.", .safe), ("ДА", .safe), ("Да, всё хорошо", .safe), ("всё хорошо", .safe), ("Все хорошо!", .safe), ("норм", .safe),
    ("Нормально", .safe), ("в безопасности", .safe), ("Я в безопасности", .safe), ("Мы в безопасности, спасибо", .safe),
    ("в порядке", .safe), ("Всё в порядке", .safe), ("живы", .safe), ("Живы, здоровы", .safe), ("хорошо", .safe),
    ("помогите", .needsHelp), ("Помогите!", .needsHelp), ("ПОМОГИТЕ", .needsHelp), ("помощь", .needsHelp), ("ПОМОЩЬ", .needsHelp),
    ("нужна помощь", .needsHelp), ("Нам нужна помощь", .needsHelp), ("Срочно нужна помощь!", .needsHelp), ("спасите", .needsHelp),
    ("SOS", .needsHelp), ("sos!!!", .needsHelp), ("СОС", .needsHelp), ("не в безопасности", .needsHelp), ("Мы не в безопасности", .needsHelp),
    ("помощь не нужна", .safe), ("Помощь не нужна, всё хорошо", .safe), ("не нормально", .needsHelp), ("Плохо, помогите", .needsHelp),
    ("ранен, нужна помощь", .needsHelp), ("опасно", .needsHelp),
    // Russian typos and Latin-typed Russian
    ("помагите", .needsHelp), ("памагите", .needsHelp), ("помогитее", .needsHelp), ("помощ", .needsHelp), ("в бизапаснасти", .safe),
    ("в безопастности", .safe), ("всё харашо", .safe), ("нармальна", .safe), ("pomogite", .needsHelp), ("pomosh", .needsHelp),
    ("nuzhna pomosh", .needsHelp), ("vse horosho", .safe), ("vsyo khorosho", .safe), ("norm", .safe), ("v bezopasnosti", .safe),
    ("da", .safe),
    // English
    ("safe", .safe), ("SAFE", .safe), ("I am safe", .safe), ("I'm safe", .safe), ("im safe thanks", .safe), ("We are safe", .safe),
    ("ok", .safe), ("OK", .safe), ("Okay", .safe), ("fine", .safe), ("all good", .safe), ("yes", .safe), ("Yes, safe", .safe),
    ("help", .needsHelp), ("HELP", .needsHelp), ("Help!", .needsHelp), ("need help", .needsHelp), ("We need help", .needsHelp),
    ("not safe", .needsHelp), ("I am not safe", .needsHelp), ("no help needed", .safe), ("I don't need help", .safe),
    ("emergency", .needsHelp), ("sfae", .safe), ("hlep", .needsHelp), ("helpp", .needsHelp),
    // Mixed scripts and languages
    ("aman, всё хорошо", .safe), ("Аман ok", .safe), ("komek нужна", .needsHelp), ("помогите komek", .needsHelp), ("1 aman", .safe),
    ("2 SOS", .needsHelp), ("Да aman", .safe),
    // Both answers, negations it cannot place, free text: a person reads them
    ("аман бірақ көмек керек", .unclear), ("safe but need help", .unclear), ("1 помогите", .unclear), ("2 аман", .unclear),
    ("да нет", .unclear), ("не знаю", .unclear), ("?", .unclear), ("", .unclear), ("...", .unclear), ("алло", .unclear),
    ("Кто это?", .unclear), ("Стоп", .unclear), ("stop", .unclear), ("Where is the bus?", .unclear),
    ("Аманмын, бірақ паспортым жоғалды, не істеу керек, елшілікке қалай жетемін?", .unclear),
    ("Мы в безопасности, но у нас закончились деньги и лекарства для ребёнка", .unclear),
    ("Здравствуйте, когда будет автобус до границы?", .unclear), ("Менің атым Айгүл, қонақүйдемін", .unclear),
    ("I am safe but my friend is still in the hotel near the airport", .unclear),
    ("Свет отключили, связи почти нет", .unclear), ("нет", .unclear), ("жоқ", .unclear), ("no", .unclear),
]

@Suite("SMS reply parser")
struct ReplyParserTests {
    @Test("there are at least 150 real-looking replies in the table")
    func tableSize() {
        #expect(replyExamples.count >= 150, "\(replyExamples.count)")
    }

    @Test("each reply means what a person reading it would say", arguments: replyExamples.indices)
    func reply(_ index: Int) {
        let (text, expected) = replyExamples[index]
        #expect(ReplyParser().parse(text) == expected, "«\(text)»")
    }
}
