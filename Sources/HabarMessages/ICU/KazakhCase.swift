import Foundation

/// The Kazakh case endings a date or time takes when a sentence says *when*: locative
/// (`12 наурызда`, `08:15-те`: at), ablative (`08:00-ден`: from), dative (`18:00-ге`:
/// until), and the attributive locative that makes it describe a noun (`08:15-тегі
/// хабарлама`: the message of 08:15). The ending follows the last word as it is read aloud — for a time, the minutes'
/// last number word (`15` → `бес` → `-те`), or the hour's when the minutes are zero
/// (`08:00` → `сегіз` → `-де`) — by vowel harmony (back `а`/`ы`, front `е`/`і`) and the last
/// sound (voiceless consonant, nasal, other).
public enum KazakhCase: String, Sendable, Hashable, CaseIterable {
    case locative, ablative, dative, attributive

    /// `word` with this case's ending attached directly (`наурыз` → `наурызда`).
    public func attach(to word: String) -> String { word + ending(after: word) }

    /// A time `HH:MM` with the ending after a hyphen, as Kazakh writes endings after digits.
    public func attach(toTime hour: Int, _ minute: Int, written: String) -> String {
        written + "-" + ending(after: Self.lastNumberWord(minute != 0 ? minute : hour))
    }

    /// The ending this case takes after `word`.
    public func ending(after word: String) -> String {
        let letters = Array(word.lowercased())
        guard let last = letters.last else { return "" }
        let front = Self.isFront(letters)
        let voiceless = Self.voiceless.contains(last)
        switch self {
        case .locative:
            return (voiceless ? "т" : "д") + (front ? "е" : "а")
        case .ablative:
            let onset = Self.nasals.contains(last) ? "н" : voiceless ? "т" : "д"
            return onset + (front ? "ен" : "ан")
        case .dative:
            let onset = voiceless ? (front ? "к" : "қ") : (front ? "г" : "ғ")
            return onset + (front ? "е" : "а")
        case .attributive:
            return KazakhCase.locative.ending(after: word) + (front ? "гі" : "ғы")
        }
    }

    static let voiceless: Set<Character> = ["п", "ф", "к", "қ", "т", "с", "ш", "щ", "ч", "ц", "х", "һ"]
    static let nasals: Set<Character> = ["м", "н", "ң"]
    static let frontVowels: Set<Character> = ["ә", "е", "ө", "ү", "і", "э"]
    static let backVowels: Set<Character> = ["а", "о", "ұ", "ы", "я"]

    /// By the last vowel that has a harmony of its own (`у` and `и` take their neighbour's).
    static func isFront(_ letters: [Character]) -> Bool {
        for letter in letters.reversed() {
            if frontVowels.contains(letter) { return true }
            if backVowels.contains(letter) { return false }
        }
        return true
    }

    /// The last word of `number` (0–59) read aloud in Kazakh: its units, else its tens.
    static func lastNumberWord(_ number: Int) -> String {
        let units = ["нөл", "бір", "екі", "үш", "төрт", "бес", "алты", "жеті", "сегіз", "тоғыз"]
        let tens = ["нөл", "он", "жиырма", "отыз", "қырық", "елу"]
        if number % 10 != 0 || number == 0 { return units[number % 10] }
        return tens[min(number / 10, tens.count - 1)]
    }
}
