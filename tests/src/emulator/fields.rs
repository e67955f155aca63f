//! Partial responses: the `fields` system parameter (`a,b.c,d(e,f(g))`, `*`), applied to any
//! response body. Arrays are filtered element by element, as Google does.

use std::collections::BTreeMap;

use serde_json::Value as Json;

#[derive(Debug, Clone, PartialEq)]
pub enum Mask {
    All,
    Some(BTreeMap<String, Mask>),
}

impl Mask {
    fn merge(&mut self, path: &[String], leaf: Mask) {
        let Mask::Some(map) = self else { return };
        let Some((head, rest)) = path.split_first() else {
            return;
        };
        if rest.is_empty() {
            match (map.get_mut(head), leaf) {
                (Some(existing @ Mask::Some(_)), Mask::Some(sub)) => {
                    for (k, v) in sub {
                        existing.merge(&[k], v);
                    }
                }
                (_, leaf) => {
                    map.insert(head.clone(), leaf);
                }
            }
            return;
        }
        let entry = map
            .entry(head.clone())
            .or_insert_with(|| Mask::Some(BTreeMap::new()));
        entry.merge(rest, leaf);
    }

    /// True when the mask selects `path` or anything below it.
    pub fn touches(&self, path: &[&str]) -> bool {
        match self {
            Mask::All => true,
            Mask::Some(map) => match path.split_first() {
                None => true,
                Some((head, rest)) => map.get(*head).is_some_and(|m| m.touches(rest)),
            },
        }
    }

    pub fn apply(&self, v: &Json) -> Json {
        match (self, v) {
            (Mask::All, _) => v.clone(),
            (Mask::Some(_), Json::Array(items)) => {
                Json::Array(items.iter().map(|i| self.apply(i)).collect())
            }
            (Mask::Some(map), Json::Object(obj)) => {
                let mut out = serde_json::Map::new();
                for (k, sub) in map {
                    if k == "*" {
                        return v.clone();
                    }
                    if let Some(child) = obj.get(k) {
                        out.insert(k.clone(), sub.apply(child));
                    }
                }
                Json::Object(out)
            }
            (Mask::Some(_), other) => other.clone(),
        }
    }
}

/// Parses a field mask; `None` when the syntax is invalid.
pub fn parse(text: &str) -> Option<Mask> {
    let chars: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    let mut i = 0;
    let mask = parse_list(&chars, &mut i)?;
    (i == chars.len()).then_some(mask)
}

fn parse_list(s: &[char], i: &mut usize) -> Option<Mask> {
    let mut mask = Mask::Some(BTreeMap::new());
    loop {
        let mut path = Vec::new();
        loop {
            let start = *i;
            while *i < s.len() && (s[*i].is_alphanumeric() || s[*i] == '_' || s[*i] == '*') {
                *i += 1;
            }
            if start == *i {
                return None;
            }
            path.push(s[start..*i].iter().collect::<String>());
            if *i < s.len() && (s[*i] == '.' || s[*i] == '/') {
                *i += 1;
                continue;
            }
            break;
        }
        let leaf = if *i < s.len() && s[*i] == '(' {
            *i += 1;
            let sub = parse_list(s, i)?;
            if *i >= s.len() || s[*i] != ')' {
                return None;
            }
            *i += 1;
            sub
        } else {
            Mask::All
        };
        if path == ["*"] && leaf == Mask::All {
            return Some(Mask::All);
        }
        mask.merge(&path, leaf);
        if *i < s.len() && s[*i] == ',' {
            *i += 1;
            continue;
        }
        return Some(mask);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_nested_objects_and_arrays() {
        let m = parse("spreadsheetId,properties(title,timeZone),sheets.properties(sheetId,title,gridProperties(rowCount))").unwrap();
        let v = json!({
            "spreadsheetId": "x", "spreadsheetUrl": "u",
            "properties": {"title": "t", "locale": "en_US", "timeZone": "z"},
            "sheets": [{"properties": {"sheetId": 0, "title": "A", "index": 0,
                        "gridProperties": {"rowCount": 5, "columnCount": 2}}, "data": []}]
        });
        assert_eq!(
            m.apply(&v),
            json!({"spreadsheetId": "x", "properties": {"title": "t", "timeZone": "z"},
                   "sheets": [{"properties": {"sheetId": 0, "title": "A", "gridProperties": {"rowCount": 5}}}]})
        );
        assert!(m.touches(&["sheets", "properties"]));
        assert!(!m.touches(&["sheets", "data"]));
        assert!(parse("sheets(data").is_none());
        assert_eq!(parse("*").unwrap(), Mask::All);
    }
}
