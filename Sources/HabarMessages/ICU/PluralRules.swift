/// CLDR plural categories.
public enum PluralCategory: String, Sendable, Hashable, CaseIterable, Comparable {
    case zero, one, two, few, many, other

    public static func < (lhs: PluralCategory, rhs: PluralCategory) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// CLDR cardinal plural rules (release 44) for the languages Habar writes.
///
/// Operands as CLDR defines them: `n` the absolute value, `i` its integer digits, `v` the
/// number of visible fraction digits, `f` those digits as an integer.
public enum PluralRules {
    /// The categories a catalog must give for `language`.
    public static func categories(_ language: Language) -> [PluralCategory] {
        switch language {
        case .russian: [.one, .few, .many, .other]
        case .kazakh, .english: [.one, .other]
        }
    }

    /// The category of `number` written with `fractionDigits` visible fraction digits.
    public static func category(_ number: Double, fractionDigits: Int, _ language: Language) -> PluralCategory {
        let n = abs(number)
        let i = Int(n.rounded(.towardZero))
        let v = fractionDigits
        switch language {
        case .russian:
            // one: v = 0 and i % 10 = 1 and i % 100 != 11
            // few: v = 0 and i % 10 = 2..4 and i % 100 != 12..14
            // many: v = 0 and (i % 10 = 0 or i % 10 = 5..9 or i % 100 = 11..14)
            // other: everything else (fractions)
            guard v == 0 else { return .other }
            let mod10 = i % 10, mod100 = i % 100
            if mod10 == 1 && mod100 != 11 { return .one }
            if (2...4).contains(mod10) && !(12...14).contains(mod100) { return .few }
            return .many
        case .kazakh:
            // one: n = 1
            return n == 1 ? .one : .other
        case .english:
            // one: i = 1 and v = 0
            return i == 1 && v == 0 ? .one : .other
        }
    }

    /// The number of fraction digits `number` shows when written shortest (1.5 → 1, 2 → 0).
    public static func fractionDigits(_ number: Double) -> Int {
        guard number.rounded(.towardZero) != number else { return 0 }
        var digits = 0
        var scaled = abs(number)
        while scaled.rounded(.towardZero) != scaled && digits < 6 {
            scaled *= 10
            digits += 1
            scaled = (scaled * 1e6).rounded() / 1e6
        }
        return digits
    }
}
