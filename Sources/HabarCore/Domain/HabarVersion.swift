/// This build's version, as `habar --version` prints it (the OpenAPI document's `info.version`
/// is the HTTP contract's own).
public enum HabarVersion {
    public static let current = "0.8.0"
}
