//! What every page shares: the frame (header, navigation, search, logout), forms, masking,
//! times and links.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::auth::Session;

/// The sections of the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Apps,
    Requests,
    Pushes,
    Faults,
    Clock,
}

/// What the frame needs to know.
pub struct Chrome<'a> {
    pub session: &'a Session,
    pub emulator: bool,
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · OpenMidas" }
            link rel="stylesheet" href="/ui/assets/ui.css";
            script src="/ui/assets/ui.js" defer {}
        }
    }
}

/// A page in the frame.
pub fn page(chrome: &Chrome<'_>, title: &str, current: Nav, body: Markup) -> Response {
    page_with_status(chrome, StatusCode::OK, title, current, body)
}

pub fn page_with_status(chrome: &Chrome<'_>, status: StatusCode, title: &str, current: Nav, body: Markup) -> Response {
    let mut links = vec![(Nav::Apps, "/ui/apps", "Apps")];
    if chrome.emulator {
        links.push((Nav::Requests, "/ui/requests", "Request log"));
    }
    links.push((Nav::Pushes, "/ui/pushes", "Pushes"));
    if chrome.emulator {
        links.push((Nav::Faults, "/ui/faults", "Faults"));
        links.push((Nav::Clock, "/ui/clock", "Clock"));
    }
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/ui" { "OpenMidas" }
                    span.mode { (if chrome.emulator { "emulator" } else { "ledger" }) }
                    nav aria-label="Main" {
                        ul {
                            @for (nav, href, label) in &links {
                                li {
                                    @if *nav == current {
                                        a href=(href) aria-current="page" { (label) }
                                    } @else {
                                        a href=(href) { (label) }
                                    }
                                }
                            }
                        }
                    }
                    form.search role="search" method="get" action="/ui/search" {
                        label.visually-hidden for="q" { "Search apps and players" }
                        input #q type="search" name="q" placeholder="appid or openid prefix";
                        button type="submit" { "Search" }
                    }
                    form.logout method="post" action="/ui/logout" {
                        input type="hidden" name="csrf" value=(chrome.session.csrf);
                        button type="submit" { "Log out" }
                    }
                }
                main #main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    };
    html_response(status, markup)
}

fn html_response(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        markup.into_string(),
    )
        .into_response()
}

/// A page without the frame (errors; there may be no session).
pub fn bare_page(status: StatusCode, title: &str, message: &str) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                main #main.narrow {
                    h1 { (title) }
                    p.error role="alert" { (message) }
                    p { a href="/ui" { "Back to the dashboard" } }
                }
            }
        }
    };
    html_response(status, markup)
}

/// The login page.
pub fn login_page(status: StatusCode, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head("Log in"))
            body { main #main.narrow { (body) } }
        }
    };
    html_response(status, markup)
}

/// A page that moves on to `to` at once (and says so, for a browser that does not).
pub fn bare_redirect(to: &str) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="refresh" content=(format!("0;url={to}"));
                title { "Logged in · OpenMidas" }
            }
            body { main { p { "Logged in. " a href=(to) { "Continue to the dashboard" } } } }
        }
    };
    html_response(StatusCode::OK, markup)
}

/// An `application/x-www-form-urlencoded` body.
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    pub fn parse(body: &[u8]) -> Form {
        Form {
            pairs: form_urlencoded::parse(body).into_owned().collect(),
        }
    }

    /// The first value of a field, trimmed; `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }
}

/// A secret as a page may show it: its first 3 characters and "…" (or only "…" when it is
/// short enough for 3 characters to be much of it).
pub fn mask(secret: &str) -> String {
    if secret.chars().count() < 12 {
        return "…".to_string();
    }
    let head: String = secret.chars().take(3).collect();
    format!("{head}…")
}

/// A query string value.
pub fn enc(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// UNIX milliseconds as `YYYY-MM-DD HH:MM:SS.mmm` UTC.
pub fn time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{millis:03}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A `<time>` element.
pub fn time_el(ms: i64) -> Markup {
    html! { time datetime=(time(ms).replace(' ', "T") + "Z") { (time(ms)) } }
}

/// A message above a page's content (after a form did something).
pub fn notice(text: Option<&str>) -> Markup {
    html! {
        @if let Some(text) = text {
            p.notice role="status" { (text) }
        }
    }
}

/// An error above a form.
pub fn problem(text: Option<&str>) -> Markup {
    html! {
        @if let Some(text) = text {
            p.error role="alert" { (text) }
        }
    }
}

/// The hidden CSRF field of a form.
pub fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}

/// Raw markup known to be safe (the chart's SVG path data is numbers only).
pub fn raw(text: String) -> PreEscaped<String> {
    PreEscaped(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_masks() {
        assert_eq!(time(0), "1970-01-01 00:00:00.000");
        assert_eq!(time(1_767_225_600_123), "2026-01-01 00:00:00.123");
        assert_eq!(time(951_782_400_000), "2000-02-29 00:00:00.000");
        assert_eq!(mask("secret-1-0123456789abcdef"), "sec…");
        assert_eq!(mask("short"), "…");
    }
}
