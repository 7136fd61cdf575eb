import HabarCore
import Testing

/// Names written the way HQ's lists (Cyrillic) and agencies' manifests and passports (Latin)
/// write the same people; each pair must have the same key.
let sameNames: [(String, String)] = [
    ("Айгүл Серікова", "Aigul Serikova"), ("Айгүл Серікова", "Aygül Serikova"), ("Айгүл Серікова", "SERIKOVA AIGUL"),
    ("Дәурен Әлиев", "Dauren Aliyev"), ("Дәурен Әлиев", "Dauren Aliev"), ("Ерлан Жұмабаев", "Yerlan Zhumabayev"),
    ("Ерлан Жұмабаев", "Erlan Jumabaev"), ("Жанна Қасымова", "Zhanna Kasymova"), ("Жанна Қасымова", "Janna Qasymova"),
    ("Нұрсұлтан Хасанов", "Nursultan Khasanov"), ("Қайрат Шынарбеков", "Kairat Shynarbekov"), ("Қайрат Шынарбеков", "Qayrat Şynarbekov"),
    ("Юлия Андреева", "Yuliya Andreyeva"), ("Юлия Андреева", "Iuliia Andreeva"), ("Наталья Ким", "Natalia Kim"),
    ("Мария Ким", "Maria Kim"), ("Сергей Щукин", "Sergey Shchukin"), ("Ольга Цой", "Olga Tsoy"), ("Александр Ли", "Alexandr Li"),
    ("Дәулет Мұхаммедов", "Dawlet Mukhammedov"), ("Ғалым Ыбырай", "Galym Ybyray"), ("Джамбул Ахметов", "Jambul Akhmetov"),
    ("Елена Семенова", "Yelena Semenova"), ("Айгүл Серікқызы", "Aigul Serikkyzy"), ("  айгүл   серікова ", "Aigul-Serikova"),
]

/// Different people, whose keys must differ.
let differentNames: [(String, String)] = [
    ("Айгүл Серікова", "Айгерім Серікова"), ("Дәурен Әлиев", "Дәурен Әлімов"), ("Мария Ким", "Марина Ким"),
    ("Ерлан Жұмабаев", "Ерлан Жұмабекұлы"), ("Ivan Petrov", "Ivan Petrenko"), ("Asel Nurova", "Asel Nurlanova"),
]

@Suite("Identity: name keys and merge suggestions")
struct MergeSuggestionTests {
    @Test("the same name in Cyrillic and Latin has one key", arguments: sameNames)
    func sameKey(_ pair: (String, String)) {
        #expect(NameKey(pair.0) == NameKey(pair.1), "\(NameKey(pair.0)) ≠ \(NameKey(pair.1))")
    }

    @Test("different names keep different keys", arguments: differentNames)
    func differentKeys(_ pair: (String, String)) {
        #expect(NameKey(pair.0) != NameKey(pair.1), "\(pair.0) and \(pair.1) both \(NameKey(pair.0))")
    }

    @Test("a name with a patronymic matches the name without it; an initial is not a word")
    func parts() {
        #expect(NameKey("Айгүл Серікқызы Серікова").parts.contains(NameKey("Aigul Serikova")))
        #expect(NameKey("A. Serikova").isUsable == false)
    }

    func candidate(_ id: Int64, _ name: String, born: String? = nil, in country: String = "TR", passport: String? = nil) -> MergeCandidate {
        MergeCandidate(id: id, fullName: name, birthDate: born, country: country, passportNumber: passport)
    }

    @Test("suggested: the same name with the same birth date or destination; not: a different birth date or passport, or only a name")
    func suggestions() {
        let found = MergeSuggestions.find([
            candidate(1, "Айгүл Серікова", born: "1990-05-01", in: "KZ"), candidate(2, "Aigul Serikova", born: "1990-05-01"),
            candidate(3, "Дәурен Әлиев"), candidate(4, "Dauren Aliyev"),
            candidate(5, "Иван Петров", born: "1980-01-01"), candidate(6, "Ivan Petrov", born: "1981-01-01"),
            candidate(7, "Мария Ким", passport: "N1234567"), candidate(8, "Maria Kim", passport: "N7654321"),
            candidate(9, "Асель Нурова", in: "TR"), candidate(10, "Asel Nurova", in: "AE"),
            candidate(11, "Ерлан Жұмабаев"), candidate(12, "Ерлан Жұмабаев"),
            candidate(13, "Madina"), candidate(14, "Мадина"),
            candidate(15, "Ольга Цой", passport: "n 0001"), candidate(16, "Olga Tsoy", passport: "N0001"),
        ])
        let pairs = found.map { [$0.citizenIds.0, $0.citizenIds.1] }
        #expect(pairs == [[1, 2], [3, 4], [11, 12], [15, 16]], "\(found)")
        #expect(found[0].reasons == [.nameInAnotherScript, .sameBirthDate])
        #expect(found[1].reasons == [.nameInAnotherScript, .sameDestination])
        #expect(found[2].reasons == [.sameName, .sameDestination])
    }

    @Test("a dismissed pair is not suggested again; each pair once, lower id first")
    func dismissed() {
        let candidates = [candidate(9, "Aigul Serikova"), candidate(4, "Айгүл Серікова"), candidate(5, "Серікова Айгүл Серікқызы")]
        let all = MergeSuggestions.find(candidates)
        #expect(all.map { [$0.citizenIds.0, $0.citizenIds.1] } == [[4, 5], [4, 9], [5, 9]])
        #expect(MergeSuggestions.find(candidates, dismissed: [[4, 9]]).map { [$0.citizenIds.0, $0.citizenIds.1] } == [[4, 5], [5, 9]])
    }
}
