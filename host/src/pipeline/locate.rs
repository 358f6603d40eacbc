//! Finding where a key or a piece of text sits in a YAML file, for messages about values
//! whose position the parser did not keep (interpolation, plugin settings).

/// 1-based (line, column) of the first occurrence of `needle`.
pub(super) fn text(haystack: &str, needle: &str) -> Option<(usize, usize)> {
    let offset = haystack.find(needle)?;
    Some(position(haystack, offset))
}

/// 1-based (line, column) of a dotted key path (`destination.audience.fields[1]`), found by
/// walking block-style keys in order; stops at the deepest key it can find.
pub(super) fn key(haystack: &str, path: &str) -> Option<(usize, usize)> {
    let mut from = 0usize;
    let mut found = None;
    for segment in path.split('.') {
        let name = segment.split('[').next().unwrap_or(segment);
        if name.is_empty() {
            continue;
        }
        let rest = &haystack[from..];
        let hit = [
            format!("{name}:"),
            format!("\"{name}\":"),
            format!("{name} :"),
        ]
        .iter()
        .filter_map(|pattern| {
            rest.match_indices(pattern.as_str())
                .find(|(i, _)| {
                    let before = rest[..*i].chars().next_back();
                    before.is_none_or(|c| c == ' ' || c == '\n' || c == '{' || c == ',' || c == '-')
                })
                .map(|(i, _)| (i, pattern.len()))
        })
        .min();
        match hit {
            Some((i, len)) => {
                from += i;
                found = Some(position(haystack, from));
                // Past the whole pattern (`"é":` included), so `from` stays on a character
                // boundary.
                from += len;
            }
            None => break,
        }
    }
    found
}

fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, column)
}
