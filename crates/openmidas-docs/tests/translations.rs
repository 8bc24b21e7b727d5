//! The Simplified Chinese translations of the user documentation stay in step with the English.
//!
//! For `README.md` and every `docs/*.md` (other than the translations, `*.zh-CN.md`):
//! - the translation `<name>.zh-CN.md` exists next to it;
//! - the English document links to the translation, and the translation back to it;
//! - both have the same number of headings at each level (`#`, `##`, `###`, ..., outside code
//!   fences), and headings that start with a section number ("3.1") start with the same one,
//!   because code comments cite "behaviour.md section N";
//! - the fenced code blocks are the same, in the same order: byte for byte once comment lines
//!   are removed (lines whose first non-space characters are `#` in shell, console and TOML
//!   blocks, or `//` in Rust blocks: those are translated). Commands, flags, outputs and
//!   configuration cannot drift apart.
//!
//! `ARCHITECTURE.md` and `BENCHMARKS.md` are developer documents, written in English only: they
//! have no translation and are not checked for one (their links are still checked).
//!
//! And every relative link in every document (English and Chinese) points to a file that
//! exists; a Chinese document links to the Chinese version of another translated document.
//!
//! When a check fails after the English was edited: update the Chinese translation (copy the
//! changed code blocks as they are, translate the prose and the comment lines).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Component, Path, PathBuf};

/// The suffix of a translation: `docs/client.md` is translated in `docs/client.zh-CN.md`.
const TRANSLATION_SUFFIX: &str = ".zh-CN.md";

/// The repository's root: this crate is `crates/openmidas-docs`.
fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

fn is_translation(path: &Path) -> bool {
    path.to_str().is_some_and(|p| p.ends_with(TRANSLATION_SUFFIX))
}

/// The user documents written in English, relative to the root: `README.md` and `docs/*.md`.
/// Not `ARCHITECTURE.md` or `BENCHMARKS.md`: developer documents, not translated.
fn english_docs(root: &Path) -> Vec<PathBuf> {
    let mut docs = vec![PathBuf::from("README.md")];
    docs.extend(markdown_in(root, "docs").into_iter().filter(|p| !is_translation(p)));
    docs
}

/// Every Markdown document whose links are checked: every `*.md` at the root and in `docs/`,
/// English and Chinese (developer documents included).
fn all_docs(root: &Path) -> Vec<PathBuf> {
    let mut docs = markdown_in(root, "");
    docs.extend(markdown_in(root, "docs"));
    docs
}

/// The `*.md` files directly in `dir` (relative to the root), sorted, as root-relative paths.
fn markdown_in(root: &Path, dir: &str) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(root.join(dir)) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
        .map(|entry| Path::new(dir).join(entry.file_name()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    found.sort();
    found
}

/// `docs/client.md` -> `docs/client.zh-CN.md`.
fn translation_of(english: &Path) -> PathBuf {
    let stem = english.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    english.with_file_name(format!("{stem}{TRANSLATION_SUFFIX}"))
}

fn read(root: &Path, rel: &Path) -> String {
    fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("cannot read {}: {e}", rel.display()))
}

fn show(path: &Path) -> String {
    path.display().to_string()
}

/// A document split into what the checks compare.
struct Doc {
    headings: Vec<Heading>,
    blocks: Vec<Block>,
    /// The text outside code fences, fences and their contents blanked out (line numbers kept).
    prose: String,
}

struct Heading {
    level: usize,
    text: String,
    line: usize,
}

struct Block {
    /// The info string after the opening fence (```` ```rust ```` -> `rust`).
    info: String,
    /// The line of the opening fence (1-based).
    line: usize,
    /// The lines inside the fences, with their line numbers.
    lines: Vec<(usize, String)>,
}

impl Block {
    fn language(&self) -> String {
        self.info.split_whitespace().next().unwrap_or("").to_ascii_lowercase()
    }

    /// The lines that must match byte for byte: all but comment lines, which are translated.
    fn code_lines(&self) -> Vec<&(usize, String)> {
        let prefix = comment_prefix(&self.language());
        self.lines
            .iter()
            .filter(|(_, line)| prefix.is_none_or(|p| !line.trim_start().starts_with(p)))
            .collect()
    }
}

/// What starts a comment line in a code block of this language; `None`: every line counts.
fn comment_prefix(language: &str) -> Option<&'static str> {
    match language {
        "sh" | "bash" | "shell" | "zsh" | "console" | "shell-session" | "toml" | "yaml" | "yml" | "python" | "py"
        | "ini" | "dockerfile" | "powershell" | "ps1" => Some("#"),
        "rust" | "rs" | "c" | "cpp" | "go" | "java" | "kotlin" | "swift" | "js" | "javascript" | "ts"
        | "typescript" | "csharp" | "cs" | "php" | "jsonc" => Some("//"),
        _ => None,
    }
}

/// An opening or closing code fence: its character, its length and the rest of the line.
fn fence(line: &str) -> Option<(char, usize, &str)> {
    let trimmed = line.trim_start();
    let ch = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = trimmed.chars().take_while(|c| *c == ch).count();
    (len >= 3).then(|| (ch, len, trimmed[len..].trim()))
}

/// An ATX heading (`## Title`, at most 3 spaces of indentation): its level and text.
fn heading(line: &str) -> Option<(usize, String)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let level = rest.chars().take_while(|c| *c == '#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let text = &rest[level..];
    if !(text.is_empty() || text.starts_with(' ') || text.starts_with('\t')) {
        return None;
    }
    Some((level, text.trim().trim_end_matches('#').trim_end().to_string()))
}

fn parse(text: &str) -> Doc {
    let mut headings = Vec::new();
    let mut blocks: Vec<Block> = Vec::new();
    let mut prose = String::with_capacity(text.len());
    // The open fence: its character and length.
    let mut open: Option<(char, usize)> = None;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        match open {
            Some((ch, len)) => {
                if let Some((c, l, rest)) = fence(line) {
                    if c == ch && l >= len && rest.is_empty() {
                        open = None;
                        prose.push('\n');
                        continue;
                    }
                }
                if let Some(block) = blocks.last_mut() {
                    block.lines.push((number, line.to_string()));
                }
                prose.push('\n');
            }
            None => {
                if let Some((ch, len, info)) = fence(line) {
                    if !(ch == '`' && info.contains('`')) {
                        open = Some((ch, len));
                        blocks.push(Block {
                            info: info.to_string(),
                            line: number,
                            lines: Vec::new(),
                        });
                        prose.push('\n');
                        continue;
                    }
                }
                if let Some((level, text)) = heading(line) {
                    headings.push(Heading {
                        level,
                        text,
                        line: number,
                    });
                }
                prose.push_str(line);
                prose.push('\n');
            }
        }
    }
    Doc {
        headings,
        blocks,
        prose,
    }
}

/// Inline code spans (`` `like this` ``, possibly across lines) replaced by spaces, so a
/// bracket inside one is not taken for a link. Newlines are kept, and so are line numbers.
fn without_code_spans(prose: &str) -> String {
    let chars: Vec<char> = prose.chars().collect();
    let mut out = String::with_capacity(prose.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '`' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|c| **c == '`').count();
        // The closing run: exactly as many backticks.
        let mut j = i + run;
        let mut close = None;
        while j < chars.len() {
            if chars[j] == '`' {
                let other = chars[j..].iter().take_while(|c| **c == '`').count();
                if other == run {
                    close = Some(j);
                    break;
                }
                j += other;
            } else {
                j += 1;
            }
        }
        match close {
            Some(j) => {
                for c in &chars[i..j + run] {
                    out.push(if *c == '\n' { '\n' } else { ' ' });
                }
                i = j + run;
            }
            None => {
                for _ in 0..run {
                    out.push('`');
                }
                i += run;
            }
        }
    }
    out
}

/// A link of a document: where it points, as written, and its line.
struct Link {
    target: String,
    line: usize,
}

/// The links of the prose: inline links and images `[text](target)`, and reference
/// definitions `[label]: target`.
fn links(doc: &Doc) -> Vec<Link> {
    let text = without_code_spans(&doc.prose);
    let line_of = |offset: usize| text[..offset].matches('\n').count() + 1;
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    while let Some(pos) = text[start..].find("](") {
        let open = start + pos + 2;
        // The destination runs to the matching `)`: parentheses inside it are balanced.
        let mut depth = 0usize;
        let mut end = None;
        for (k, b) in bytes.iter().enumerate().skip(open) {
            match b {
                b'(' => depth += 1,
                b')' if depth == 0 => {
                    end = Some(k);
                    break;
                }
                b')' => depth -= 1,
                b'\n' => break,
                _ => {}
            }
        }
        let Some(end) = end else {
            start = open;
            continue;
        };
        let inner = text[open..end].trim();
        let target = match inner.strip_prefix('<') {
            Some(rest) => rest.split('>').next().unwrap_or(""),
            None => inner.split_whitespace().next().unwrap_or(""),
        };
        found.push(Link {
            target: target.to_string(),
            line: line_of(open),
        });
        start = end;
    }
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if line.len() - trimmed.len() > 3 || !trimmed.starts_with('[') || trimmed.starts_with("[^") {
            continue;
        }
        if let Some(close) = trimmed.find("]:") {
            let target = trimmed[close + 2..].split_whitespace().next().unwrap_or("");
            let target = target.trim_start_matches('<').trim_end_matches('>');
            if !target.is_empty() {
                found.push(Link {
                    target: target.to_string(),
                    line: index + 1,
                });
            }
        }
    }
    found
}

/// Where a relative link of the document `from` points, relative to the root; `None` for
/// links that leave the repository's files alone (a URL with a scheme, `mailto:`), and
/// `from` itself for an anchor in the same document (`#settings`).
fn resolve(from: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['#', '?']).next().unwrap_or("");
    let scheme = path
        .split_once(':')
        .is_some_and(|(s, _)| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)));
    if scheme || target.starts_with("//") || target.is_empty() {
        return None;
    }
    if path.is_empty() {
        return Some(from.to_path_buf());
    }
    let path = percent_decoded(path);
    let joined = match path.strip_prefix('/') {
        Some(from_root) => PathBuf::from(from_root),
        None => from.parent().unwrap_or(Path::new("")).join(path),
    };
    // Lexically normal: `docs/../README.md` -> `README.md`.
    let mut normal = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::ParentDir => {
                if !normal.pop() {
                    normal.push("..");
                }
            }
            Component::CurDir => {}
            other => normal.push(other),
        }
    }
    Some(normal)
}

fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The anchor GitHub gives a heading: its text as rendered (code spans, links and emphasis
/// reduced to their text), lowercased, with every character that is not a letter, a digit,
/// `-`, `_` or a space removed (Chinese punctuation included), and spaces turned into `-`.
fn slug(heading: &str) -> String {
    let mut text = String::with_capacity(heading.len());
    let mut rest = heading;
    // `[text](target)` -> `text`
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find("](").map(|i| open + i) else {
            break;
        };
        let Some(end) = rest[close..].find(')').map(|i| close + i) else {
            break;
        };
        text.push_str(&rest[..open]);
        text.push_str(&rest[open + 1..close]);
        rest = &rest[end + 1..];
    }
    text.push_str(rest);
    text.to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a document's headings; a repeated one gets `-1`, `-2`, ... as on GitHub.
fn anchors(doc: &Doc) -> Vec<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut found = Vec::new();
    for heading in &doc.headings {
        let base = slug(&heading.text);
        let anchor = match seen.get(&base) {
            None => base.clone(),
            Some(n) => format!("{base}-{n}"),
        };
        *seen.entry(base).or_insert(0) += 1;
        found.push(anchor);
    }
    found
}

/// The fragment of a link (`client.md#settings` -> `settings`), percent-decoded.
fn fragment(target: &str) -> Option<String> {
    target
        .split_once('#')
        .map(|(_, f)| percent_decoded(f))
        .filter(|f| !f.is_empty())
}

fn links_to(from: &Path, doc: &Doc, to: &Path) -> bool {
    links(doc)
        .iter()
        .any(|link| resolve(from, &link.target).as_deref() == Some(to))
}

/// The first line of a code block, shortened for a message.
fn excerpt(line: Option<&&(usize, String)>) -> String {
    match line {
        None => "(the end of the block)".to_string(),
        Some((_, text)) => {
            let shown: String = text.chars().take(100).collect();
            if shown.len() < text.len() {
                format!("`{shown}...`")
            } else {
                format!("`{shown}`")
            }
        }
    }
}

fn check_headings(english: &Path, en: &Doc, chinese: &Path, zh: &Doc, failures: &mut Vec<String>) {
    let count = |doc: &Doc| {
        let mut per_level = BTreeMap::new();
        for h in &doc.headings {
            *per_level.entry(h.level).or_insert(0usize) += 1;
        }
        per_level
    };
    let (en_count, zh_count) = (count(en), count(zh));
    if en_count != zh_count {
        let levels: Vec<usize> = en_count.keys().chain(zh_count.keys()).copied().collect();
        let mut differences = Vec::new();
        for level in levels.iter().min().copied().unwrap_or(1)..=levels.iter().max().copied().unwrap_or(1) {
            let (e, z) = (en_count.get(&level).unwrap_or(&0), zh_count.get(&level).unwrap_or(&0));
            if e != z {
                differences.push(format!(
                    "{} `{}` headings in English, {} in Chinese",
                    e,
                    "#".repeat(level),
                    z
                ));
            }
        }
        // Where the outlines first part: the heading to look at.
        let first = en
            .headings
            .iter()
            .zip(&zh.headings)
            .position(|(e, z)| e.level != z.level);
        let place = match first {
            Some(i) => format!(
                "; they first differ at heading {}: {} line {} `{} {}` against {} line {} `{} {}`",
                i + 1,
                show(english),
                en.headings[i].line,
                "#".repeat(en.headings[i].level),
                en.headings[i].text,
                show(chinese),
                zh.headings[i].line,
                "#".repeat(zh.headings[i].level),
                zh.headings[i].text
            ),
            None => {
                let i = en.headings.len().min(zh.headings.len());
                match (en.headings.get(i), zh.headings.get(i)) {
                    (Some(h), _) => format!(
                        "; {} line {} `{} {}` has no Chinese counterpart",
                        show(english),
                        h.line,
                        "#".repeat(h.level),
                        h.text
                    ),
                    (_, Some(h)) => format!(
                        "; {} line {} `{} {}` has no English counterpart",
                        show(chinese),
                        h.line,
                        "#".repeat(h.level),
                        h.text
                    ),
                    _ => String::new(),
                }
            }
        };
        failures.push(format!(
            "{}: the headings differ from {} ({}){place}: update the Chinese translation",
            show(chinese),
            show(english),
            differences.join(", ")
        ));
        return;
    }
    // Section numbers ("## 3. ...", "### 8.4 ...") must survive translation: code comments cite them.
    let number = |text: &str| -> Option<String> {
        let n: String = text.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
        let n = n.trim_end_matches('.').to_string();
        (!n.is_empty() && n.starts_with(|c: char| c.is_ascii_digit())).then_some(n)
    };
    for (i, (e, z)) in en.headings.iter().zip(&zh.headings).enumerate() {
        if e.level != z.level || number(&e.text) != number(&z.text) {
            failures.push(format!(
                "{}: heading {} (line {}) `{} {}` does not match {} line {} `{} {}` (the level and the section \
                 number must be the same): update the Chinese translation",
                show(chinese),
                i + 1,
                z.line,
                "#".repeat(z.level),
                z.text,
                show(english),
                e.line,
                "#".repeat(e.level),
                e.text
            ));
            return;
        }
    }
}

fn check_blocks(english: &Path, en: &Doc, chinese: &Path, zh: &Doc, failures: &mut Vec<String>) {
    for (i, (e, z)) in en.blocks.iter().zip(&zh.blocks).enumerate() {
        let n = i + 1;
        if e.info != z.info {
            failures.push(format!(
                "{}: code block {} (line {}) is ```{} but block {} of {} (line {}) is ```{}: update the Chinese \
                 translation",
                show(chinese),
                n,
                z.line,
                z.info,
                n,
                show(english),
                e.line,
                e.info
            ));
            return;
        }
        let (e_lines, z_lines) = (e.code_lines(), z.code_lines());
        if let Some(k) = (0..e_lines.len().max(z_lines.len()))
            .find(|k| e_lines.get(*k).map(|(_, text)| text) != z_lines.get(*k).map(|(_, text)| text))
        {
            let at = |lines: &[&(usize, String)], block: &Block| {
                lines
                    .get(k)
                    .map_or(format!("the end of the block (line {})", block.line), |(line, _)| {
                        format!("line {line}")
                    })
            };
            failures.push(format!(
                "{}: code block {} (line {}) differs from block {} of {} (line {}); first differing line: {} has {} \
                 at {}, the English has {} at {}. Code blocks must stay byte-identical (only comment lines are \
                 translated): update the Chinese translation",
                show(chinese),
                n,
                z.line,
                n,
                show(english),
                e.line,
                show(chinese),
                excerpt(z_lines.get(k)),
                at(&z_lines, z),
                excerpt(e_lines.get(k)),
                at(&e_lines, e)
            ));
            return;
        }
    }
    if en.blocks.len() != zh.blocks.len() {
        let n = en.blocks.len().min(zh.blocks.len()) + 1;
        let which = match (en.blocks.get(n - 1), zh.blocks.get(n - 1)) {
            (Some(b), _) => format!(
                "block {} of {} (line {}, first line {}) has no Chinese counterpart",
                n,
                show(english),
                b.line,
                excerpt(b.code_lines().first())
            ),
            (_, Some(b)) => format!(
                "block {} of {} (line {}, first line {}) has no English counterpart",
                n,
                show(chinese),
                b.line,
                excerpt(b.code_lines().first())
            ),
            _ => String::new(),
        };
        failures.push(format!(
            "{}: {} code blocks, but {} has {}; {}: update the Chinese translation",
            show(chinese),
            zh.blocks.len(),
            show(english),
            en.blocks.len(),
            which
        ));
    }
}

fn report(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} problem(s) in the documentation:\n\n{}\n",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_user_document_has_a_chinese_translation_in_step_with_it() {
    let root = repo_root();
    let mut failures = Vec::new();
    let english = english_docs(&root);
    assert!(english.len() > 1, "found no docs/*.md under {}", root.display());
    for en_path in english {
        let zh_path = translation_of(&en_path);
        if !root.join(&zh_path).is_file() {
            failures.push(format!(
                "{}: missing, the Chinese translation of {}: translate it (and link the two: `[中文]({})` under \
                 the English title, `[English]({})` under the Chinese one)",
                show(&zh_path),
                show(&en_path),
                zh_path.file_name().unwrap_or_default().to_string_lossy(),
                en_path.file_name().unwrap_or_default().to_string_lossy()
            ));
            continue;
        }
        let en = parse(&read(&root, &en_path));
        let zh = parse(&read(&root, &zh_path));
        if !links_to(&en_path, &en, &zh_path) {
            failures.push(format!(
                "{}: no link to its Chinese translation {}: add `[中文]({})` under the title",
                show(&en_path),
                show(&zh_path),
                zh_path.file_name().unwrap_or_default().to_string_lossy()
            ));
        }
        if !links_to(&zh_path, &zh, &en_path) {
            failures.push(format!(
                "{}: no link back to {}: add `[English]({})` under the title of the Chinese translation",
                show(&zh_path),
                show(&en_path),
                en_path.file_name().unwrap_or_default().to_string_lossy()
            ));
        }
        check_headings(&en_path, &en, &zh_path, &zh, &mut failures);
        check_blocks(&en_path, &en, &zh_path, &zh, &mut failures);
    }
    report(failures);
}

#[test]
fn every_relative_link_points_to_a_file_that_exists() {
    let root = repo_root();
    let translated: Vec<PathBuf> = english_docs(&root);
    let docs: BTreeMap<PathBuf, Doc> = all_docs(&root)
        .into_iter()
        .map(|p| (p.clone(), parse(&read(&root, &p))))
        .collect();
    let mut failures = Vec::new();
    for (path, doc) in &docs {
        let path = path.as_path();
        for link in links(doc) {
            let Some(target) = resolve(path, &link.target) else {
                continue;
            };
            if !root.join(&target).exists() {
                failures.push(format!(
                    "{} line {}: the link `{}` points to {}, which does not exist",
                    show(path),
                    link.line,
                    link.target,
                    show(&target)
                ));
                continue;
            }
            // A Chinese document sends its reader to the Chinese version of another document
            // (its own English original is the one exception: the `[English]` link).
            if is_translation(path) && translated.contains(&target) && translation_of(&target) != path {
                failures.push(format!(
                    "{} line {}: the link `{}` points to the English {}; link its translation {} instead",
                    show(path),
                    link.line,
                    link.target,
                    show(&target),
                    show(&translation_of(&target))
                ));
            }
            // An anchor into a document names one of its headings (translated headings have
            // other anchors: `#设置`, not `#settings`).
            if let (Some(anchor), Some(target_doc)) = (fragment(&link.target), docs.get(&target)) {
                let known = anchors(target_doc);
                if !known.contains(&anchor) {
                    failures.push(format!(
                        "{} line {}: the link `{}` names the anchor #{anchor}, but {} has no heading with that anchor \
                         (its headings' anchors: {})",
                        show(path),
                        link.line,
                        link.target,
                        show(&target),
                        known.iter().map(|a| format!("#{a}")).collect::<Vec<_>>().join(" ")
                    ));
                }
            }
        }
    }
    report(failures);
}

#[test]
fn the_parser_sees_what_the_checks_rely_on() {
    let doc = parse(concat!(
        "# Title\n",
        "[中文](a.zh-CN.md)\n",
        "Text with `[x](not-a-link.md)` and a [real](b.md#anchor) link, ![img](<c d.png> \"t\").\n",
        "```sh\n",
        "# a comment\n",
        "## not a heading\n",
        "run --flag   # trailing comment stays\n",
        "```\n",
        "## 3.1 Section\n",
        "````rust\n",
        "#[derive(Debug)]\n",
        "// a comment\n",
        "````\n",
        "[ref]: docs/e.md\n",
    ));
    let levels: Vec<(usize, &str)> = doc.headings.iter().map(|h| (h.level, h.text.as_str())).collect();
    assert_eq!(levels, [(1, "Title"), (2, "3.1 Section")]);
    assert_eq!(doc.blocks.len(), 2);
    let code: Vec<&str> = doc.blocks[0].code_lines().iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(code, ["run --flag   # trailing comment stays"]);
    let rust: Vec<&str> = doc.blocks[1].code_lines().iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(rust, ["#[derive(Debug)]"]);
    let targets: Vec<String> = links(&doc).into_iter().map(|l| l.target).collect();
    assert_eq!(targets, ["a.zh-CN.md", "b.md#anchor", "c d.png", "docs/e.md"]);
    let from = Path::new("docs/client.md");
    assert_eq!(resolve(from, "../README.md"), Some(PathBuf::from("README.md")));
    assert_eq!(
        resolve(from, "client.zh-CN.md#a"),
        Some(PathBuf::from("docs/client.zh-CN.md"))
    );
    assert_eq!(resolve(from, "/BENCHMARKS.md"), Some(PathBuf::from("BENCHMARKS.md")));
    assert_eq!(resolve(from, "#anchor"), Some(from.to_path_buf()));
    assert_eq!(resolve(from, "mailto:someone@example.com"), None);
    assert_eq!(slug("B. The TLS recipe (any SDK)"), "b-the-tls-recipe-any-sdk");
    assert_eq!(slug("Signing by hand: `sign`"), "signing-by-hand-sign");
    assert_eq!(slug("SKIT.FlurlHttpClient.Wechat (C#)"), "skitflurlhttpclientwechat-c");
    assert_eq!(slug("B. TLS 方案（适用于任何 SDK）"), "b-tls-方案适用于任何-sdk");
    assert_eq!(slug("手工签名：`sign`"), "手工签名sign");
    assert_eq!(slug("See [the docs](x.md) now"), "see-the-docs-now");
    assert_eq!(fragment("client.zh-CN.md#%E6%8E%A5%E6%94%B6"), Some("接收".to_string()));
    assert_eq!(resolve(from, "https://api.weixin.qq.com"), None);
    assert_eq!(translation_of(Path::new("README.md")), PathBuf::from("README.zh-CN.md"));
}
