import Foundation
import HabarMessages
import Testing

/// Kazakh case endings after times and month names, as a Kazakh reader expects them.
@Suite("Kazakh case endings")
struct KazakhCaseTests {
    @Test("after a time the ending follows the last number word read aloud", arguments: [
        (8, 15, "08:15-те", "08:15-тен", "08:15-ке", "08:15-тегі"), (8, 0, "08:00-де", "08:00-ден", "08:00-ге", "08:00-дегі"),
        (10, 0, "10:00-да", "10:00-нан", "10:00-ға", "10:00-дағы"), (18, 30, "18:30-да", "18:30-дан", "18:30-ға", "18:30-дағы"),
        (9, 40, "09:40-та", "09:40-тан", "09:40-қа", "09:40-тағы"), (6, 0, "06:00-да", "06:00-дан", "06:00-ға", "06:00-дағы"),
        (12, 50, "12:50-де", "12:50-ден", "12:50-ге", "12:50-дегі"), (0, 0, "00:00-де", "00:00-ден", "00:00-ге", "00:00-дегі"),
        (13, 3, "13:03-те", "13:03-тен", "13:03-ке", "13:03-тегі"), (21, 20, "21:20-да", "21:20-дан", "21:20-ға", "21:20-дағы"),
    ])
    func times(_ hour: Int, _ minute: Int, _ locative: String, _ ablative: String, _ dative: String, _ attributive: String) {
        let written = String(format: "%02d:%02d", hour, minute)
        #expect(KazakhCase.locative.attach(toTime: hour, minute, written: written) == locative)
        #expect(KazakhCase.ablative.attach(toTime: hour, minute, written: written) == ablative)
        #expect(KazakhCase.dative.attach(toTime: hour, minute, written: written) == dative)
        #expect(KazakhCase.attributive.attach(toTime: hour, minute, written: written) == attributive)
    }

    @Test("month names take the locative, ablative and dative by harmony and last sound", arguments: [
        ("наурыз", "наурызда", "наурыздан", "наурызға"), ("сәуір", "сәуірде", "сәуірден", "сәуірге"),
        ("шілде", "шілдеде", "шілдеден", "шілдеге"), ("қыркүйек", "қыркүйекте", "қыркүйектен", "қыркүйекке"),
        ("маусым", "маусымда", "маусымнан", "маусымға"), ("қараша", "қарашада", "қарашадан", "қарашаға"),
        ("желтоқсан", "желтоқсанда", "желтоқсаннан", "желтоқсанға"),
    ])
    func months(_ month: String, _ locative: String, _ ablative: String, _ dative: String) {
        #expect(KazakhCase.locative.attach(to: month) == locative)
        #expect(KazakhCase.ablative.attach(to: month) == ablative)
        #expect(KazakhCase.dative.attach(to: month) == dative)
    }
}
