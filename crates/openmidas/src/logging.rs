//! The log filter of `serve` and of the CLI: the PostgreSQL driver's own logging kept out,
//! whatever `RUST_LOG` says.
//!
//! At `debug`, tokio-postgres logs every statement with its parameters ("executing
//! statement ... with parameters: [...]"): AppSecrets, AppKeys, access tokens and session
//! keys, which the store writes and reads as parameters. So its crates are capped at
//! `warn` (issue 16).

use tracing_subscriber::filter::{Directive, EnvFilter, LevelFilter};

/// The crates that log what OpenMidas sends PostgreSQL (a directive's target matches every
/// target it is a prefix of, so these cover their modules: `tokio_postgres::query`, ...).
const DRIVER_TARGETS: [&str; 2] = ["tokio_postgres", "postgres_protocol"];

/// The most the driver may log: nothing it logs at `warn` or above carries parameters.
const DRIVER_CAP: LevelFilter = LevelFilter::WARN;

/// `filter` with the PostgreSQL driver's crates capped at `warn`: below it, they log
/// statements with their parameters. A cap, not a level: a stricter filter (`error`, `off`,
/// `tokio_postgres=error`) keeps its level; anything more verbose, from a bare `debug` to
/// `tokio_postgres::query=trace`, is brought down to `warn`.
///
/// How: for each driver target, and for each more specific one `filter` names (a more
/// specific directive is consulted first, so it must be capped too), a directive
/// `target=min(level, warn)` is added; an added directive replaces one with the same target
/// (tracing-subscriber's `EnvFilter::add_directive`: the last for a target wins).
///
/// Span directives (`[span]=debug`) enable every event inside the spans they name,
/// whatever its target, and no directive can take that back; OpenMidas opens no spans the
/// driver is called in.
pub fn without_driver_parameters(filter: EnvFilter) -> EnvFilter {
    let statics = static_directives(&filter);
    let mut targets: Vec<String> = DRIVER_TARGETS.iter().map(|t| t.to_string()).collect();
    for (target, _) in &statics {
        if let Some(target) = target {
            if DRIVER_TARGETS.iter().any(|driver| target.starts_with(driver)) && !targets.contains(target) {
                targets.push(target.clone());
            }
        }
    }
    let mut filter = filter;
    for target in targets {
        let level = effective_level(&statics, &target).min(DRIVER_CAP);
        // The target was read back from a directive of the same grammar: it parses again.
        if let Ok(directive) = format!("{target}={level}").parse::<Directive>() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// `filter`'s directives without span or field filters, most specific first, as
/// `(target, level)`. `EnvFilter` shows these first (in the order it consults them), then
/// the others, which are the only ones with brackets.
fn static_directives(filter: &EnvFilter) -> Vec<(Option<String>, LevelFilter)> {
    let text = filter.to_string();
    let mut statics = Vec::new();
    for directive in text.split(',') {
        if directive.contains('[') {
            break;
        }
        let (target, level) = match directive.rsplit_once('=') {
            Some((target, level)) => (Some(target.to_string()), level),
            None => (None, directive),
        };
        if let Ok(level) = level.parse::<LevelFilter>() {
            statics.push((target, level));
        }
    }
    statics
}

/// The level `statics` give an event of `target`: that of the most specific directive whose
/// target is a prefix of it (or that has none); off when none applies.
fn effective_level(statics: &[(Option<String>, LevelFilter)], target: &str) -> LevelFilter {
    statics
        .iter()
        .find(|(prefix, _)| prefix.as_deref().is_none_or(|prefix| target.starts_with(prefix)))
        .map_or(LevelFilter::OFF, |(_, level)| *level)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing::Level;
    use tracing_subscriber::layer::{Context, SubscriberExt};
    use tracing_subscriber::Layer;

    use super::*;

    /// Records `target level` of every event that gets through the filter below it.
    struct Recorder(Arc<Mutex<Vec<String>>>);

    impl<S: tracing::Subscriber> Layer<S> for Recorder {
        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            let meta = event.metadata();
            self.0
                .lock()
                .unwrap()
                .push(format!("{} {}", meta.target(), meta.level().as_str().to_lowercase()));
        }
    }

    macro_rules! at_every_level {
        ($target:literal) => {
            tracing::event!(target: $target, Level::TRACE, "x");
            tracing::event!(target: $target, Level::DEBUG, "x");
            tracing::event!(target: $target, Level::INFO, "x");
            tracing::event!(target: $target, Level::WARN, "x");
            tracing::event!(target: $target, Level::ERROR, "x");
        };
    }

    /// Which of a fixed set of events `filter` lets through: the driver's modules (as the
    /// `log` bridge names them), a crate whose name starts like the driver's, OpenMidas.
    fn events(filter: EnvFilter) -> Vec<String> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry().with(filter).with(Recorder(seen.clone()));
        tracing::subscriber::with_default(subscriber, || {
            at_every_level!("tokio_postgres::query");
            at_every_level!("tokio_postgres::connection");
            at_every_level!("postgres_protocol::message::frontend");
            at_every_level!("tokio_postgres_rustls");
            at_every_level!("tokio::runtime");
            at_every_level!("openmidas_server::observe");
        });
        let seen = seen.lock().unwrap().clone();
        seen
    }

    fn passed_for(spec: &str) -> Vec<String> {
        events(without_driver_parameters(EnvFilter::new(spec)))
    }

    /// Events of `target` (a whole target, not a prefix) in `passed`.
    fn of<'a>(passed: &'a [String], target: &str) -> Vec<&'a str> {
        passed
            .iter()
            .filter_map(|event| event.strip_prefix(target)?.strip_prefix(' '))
            .collect()
    }

    const WARN_UP: [&str; 2] = ["warn", "error"];
    const ALL: [&str; 5] = ["trace", "debug", "info", "warn", "error"];

    /// What `RUST_LOG=debug` gives `serve`: debug everywhere but in the driver, which logs
    /// warnings and errors only.
    #[test]
    fn rust_log_debug_leaves_the_driver_at_warn() {
        let passed = passed_for("debug");
        assert_eq!(of(&passed, "tokio_postgres::query"), WARN_UP);
        assert_eq!(of(&passed, "tokio_postgres::connection"), WARN_UP);
        assert_eq!(of(&passed, "postgres_protocol::message::frontend"), WARN_UP);
        assert_eq!(of(&passed, "openmidas_server::observe"), &ALL[1..]);
        assert_eq!(of(&passed, "tokio::runtime"), &ALL[1..]);

        // Without the cap, the same filter lets the statements through.
        let uncapped = events(EnvFilter::new("debug"));
        assert_eq!(of(&uncapped, "tokio_postgres::query"), &ALL[1..]);
    }

    #[test]
    fn every_way_of_asking_for_the_driver_is_capped() {
        for spec in [
            "trace",
            "tokio_postgres=trace",
            "info,tokio_postgres=debug,postgres_protocol=trace",
            "warn,tokio_postgres::query=trace",
            "warn,tokio_postgres::q=debug",
            "info,tokio=debug",
            "tokio_postgres=trace,tokio_postgres::query=debug,[request{rid}]=trace",
        ] {
            let passed = passed_for(spec);
            assert_eq!(of(&passed, "tokio_postgres::query"), WARN_UP, "{spec}");
            assert_eq!(of(&passed, "tokio_postgres::connection"), WARN_UP, "{spec}");
        }
        // A crate whose name begins with the driver's is capped too (directives match by
        // prefix); the rest keep their level.
        let passed = passed_for("debug");
        assert_eq!(of(&passed, "tokio_postgres_rustls"), WARN_UP);
        let passed = passed_for("info,tokio=debug");
        assert_eq!(of(&passed, "tokio::runtime"), &ALL[1..]);
        assert_eq!(of(&passed, "openmidas_server::observe"), &ALL[2..]);
    }

    /// The cap never raises a level: a stricter filter keeps its own.
    #[test]
    fn a_stricter_filter_is_kept() {
        assert_eq!(passed_for("off"), Vec::<String>::new());
        let passed = passed_for("error");
        assert_eq!(of(&passed, "tokio_postgres::query"), ["error"]);
        assert_eq!(of(&passed, "openmidas_server::observe"), ["error"]);
        let passed = passed_for("debug,tokio_postgres=error,postgres_protocol=off");
        assert_eq!(of(&passed, "tokio_postgres::query"), ["error"]);
        assert_eq!(of(&passed, "postgres_protocol::message::frontend"), Vec::<&str>::new());
        let passed = passed_for("openmidas_server=info");
        assert_eq!(of(&passed, "tokio_postgres::query"), Vec::<&str>::new());
        assert_eq!(of(&passed, "openmidas_server::observe"), &ALL[2..]);
    }

    /// What the cap relies on: of two directives for the same target, the one added last
    /// decides, whichever is more verbose.
    #[test]
    fn the_directive_added_last_for_a_target_wins() {
        let quieter = EnvFilter::new("tokio_postgres=debug").add_directive("tokio_postgres=warn".parse().unwrap());
        assert_eq!(of(&events(quieter), "tokio_postgres::query"), WARN_UP);
        let louder = EnvFilter::new("tokio_postgres=warn").add_directive("tokio_postgres=debug".parse().unwrap());
        assert_eq!(of(&events(louder), "tokio_postgres::query"), &ALL[1..]);
        // A more specific target is consulted first, whenever it was added.
        let specific =
            EnvFilter::new("tokio_postgres::query=debug").add_directive("tokio_postgres=warn".parse().unwrap());
        assert_eq!(of(&events(specific), "tokio_postgres::query"), &ALL[1..]);
    }
}
