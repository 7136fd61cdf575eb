/// How long some work took beside how long a timer of the expected length took, both
/// counted from the same start. On a busy machine (a full parallel test run on two cores)
/// every continuation waits its turn, so both come back late by about the same; a check
/// that compares the two catches work that waits far longer than it should without
/// failing because the machine was busy.
public struct ControlTimed<Result> {
    public var result: Result
    public var elapsed: Duration
    /// How long a timer of the expected length took.
    public var control: Duration

    /// Whether the work came back within `allowance` of the control timer.
    public func within(_ allowance: Duration) -> Bool { elapsed < control + allowance }
}

/// Runs `work` beside a timer of `expected`.
public func timed<Result: Sendable>(
    expecting expected: Duration, _ work: () async -> Result
) async -> ControlTimed<Result> {
    let started = ContinuousClock.now
    async let control: Duration = {
        try? await Task.sleep(for: expected)
        return ContinuousClock.now - started
    }()
    let result = await work()
    let elapsed = ContinuousClock.now - started
    return ControlTimed(result: result, elapsed: elapsed, control: await control)
}
