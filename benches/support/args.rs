//! The benches' own command-line options, `--name value`, after cargo's.

/// The number after `name` among `args`, or `default` without one.
///
/// # Panics
///
/// If the value after `name` is not a number: a bench run with a typo
/// should stop, not measure something else.
pub(crate) fn number(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|arg| arg == name)
        .and_then(|at| args.get(at + 1))
        .map_or(default, |value| {
            value.parse().unwrap_or_else(|_| panic!("{name} takes a number"))
        })
}
