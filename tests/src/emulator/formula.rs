//! A deliberately small formula evaluator: literals, cell references (`A1`, `$B$2`,
//! `Sheet!A1`, `'Jon''s'!A1`), `+ - * /`, `&` and parentheses. Anything else (functions,
//! ranges) is "not evaluable": the cell then shows its seeded cached value or `#NAME?`.
//! Formulas are evaluated at read time, so they follow the cells they reference.

use super::a1;
use super::cell::{auto_number, Effective};

/// Reads another cell's calculated value: `(sheet title or None for the same sheet, row, col)`.
/// `None` = the sheet does not exist (`#REF!`).
pub type Lookup<'a> = dyn Fn(Option<&str>, u32, u32) -> Option<Effective> + 'a;

/// `None` when the formula uses something the evaluator does not know.
pub fn evaluate(text: &str, lookup: &Lookup<'_>) -> Option<Effective> {
    let body = text.strip_prefix('=')?;
    let mut p = Parser {
        s: body.chars().collect(),
        i: 0,
        lookup,
    };
    let v = p.concat()?;
    p.ws();
    (p.i == p.s.len()).then_some(v)
}

struct Parser<'a, 'b> {
    s: Vec<char>,
    i: usize,
    lookup: &'a Lookup<'b>,
}

fn to_number(v: &Effective) -> Result<f64, Effective> {
    match v {
        Effective::Empty => Ok(0.0),
        Effective::Number(n) => Ok(*n),
        Effective::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
        Effective::Text(t) => t
            .trim()
            .parse()
            .map_err(|_| Effective::Error("#VALUE!".into())),
        Effective::Error(_) => Err(v.clone()),
    }
}

fn to_text(v: &Effective) -> Result<String, Effective> {
    match v {
        Effective::Empty => Ok(String::new()),
        Effective::Number(n) => Ok(auto_number(*n)),
        Effective::Bool(b) => Ok(if *b { "TRUE" } else { "FALSE" }.into()),
        Effective::Text(t) => Ok(t.clone()),
        Effective::Error(_) => Err(v.clone()),
    }
}

impl Parser<'_, '_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn concat(&mut self) -> Option<Effective> {
        let mut v = self.additive()?;
        while self.eat('&') {
            let r = self.additive()?;
            v = match (to_text(&v), to_text(&r)) {
                (Ok(a), Ok(b)) => Effective::Text(a + &b),
                (Err(e), _) | (_, Err(e)) => e,
            };
        }
        Some(v)
    }

    fn additive(&mut self) -> Option<Effective> {
        let mut v = self.term()?;
        loop {
            let op = if self.eat('+') {
                '+'
            } else if self.eat('-') {
                '-'
            } else {
                return Some(v);
            };
            let r = self.term()?;
            v = arith(&v, &r, op);
        }
    }

    fn term(&mut self) -> Option<Effective> {
        let mut v = self.unary()?;
        loop {
            let op = if self.eat('*') {
                '*'
            } else if self.eat('/') {
                '/'
            } else {
                return Some(v);
            };
            let r = self.unary()?;
            v = arith(&v, &r, op);
        }
    }

    fn unary(&mut self) -> Option<Effective> {
        if self.eat('-') {
            let v = self.unary()?;
            return Some(arith(&Effective::Number(0.0), &v, '-'));
        }
        if self.eat('+') {
            return self.unary();
        }
        self.primary()
    }

    fn primary(&mut self) -> Option<Effective> {
        self.ws();
        let c = *self.s.get(self.i)?;
        if c == '(' {
            self.i += 1;
            let v = self.concat()?;
            return self.eat(')').then_some(v);
        }
        if c == '"' {
            self.i += 1;
            let mut out = String::new();
            loop {
                let ch = *self.s.get(self.i)?;
                self.i += 1;
                if ch == '"' {
                    if self.s.get(self.i) == Some(&'"') {
                        out.push('"');
                        self.i += 1;
                    } else {
                        return Some(Effective::Text(out));
                    }
                } else {
                    out.push(ch);
                }
            }
        }
        if c.is_ascii_digit() || c == '.' {
            let start = self.i;
            while self
                .s
                .get(self.i)
                .is_some_and(|c| c.is_ascii_digit() || *c == '.')
            {
                self.i += 1;
            }
            let t: String = self.s[start..self.i].iter().collect();
            return t.parse().ok().map(Effective::Number);
        }
        // A reference, optionally sheet-qualified, or TRUE/FALSE.
        let mut sheet = None;
        if c == '\'' {
            self.i += 1;
            let mut title = String::new();
            loop {
                let ch = *self.s.get(self.i)?;
                self.i += 1;
                if ch == '\'' {
                    if self.s.get(self.i) == Some(&'\'') {
                        title.push('\'');
                        self.i += 1;
                    } else {
                        break;
                    }
                } else {
                    title.push(ch);
                }
            }
            if self.s.get(self.i) != Some(&'!') {
                return None;
            }
            self.i += 1;
            sheet = Some(title);
        }
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|c| c.is_alphanumeric() || matches!(c, '$' | '_' | '.'))
        {
            self.i += 1;
        }
        let mut word: String = self.s[start..self.i].iter().collect();
        if sheet.is_none() && self.s.get(self.i) == Some(&'!') {
            self.i += 1;
            sheet = Some(word);
            let start = self.i;
            while self
                .s
                .get(self.i)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '$')
            {
                self.i += 1;
            }
            word = self.s[start..self.i].iter().collect();
        }
        if sheet.is_none() {
            if word.eq_ignore_ascii_case("TRUE") && !self.next_is('(') {
                return Some(Effective::Bool(true));
            }
            if word.eq_ignore_ascii_case("FALSE") && !self.next_is('(') {
                return Some(Effective::Bool(false));
            }
        }
        if self.next_is('(') || self.next_is(':') {
            return None; // functions and ranges are not evaluated
        }
        let cells = a1::parse_cells(&word)?;
        let (row, col) = (cells.start.row?, cells.start.col?);
        Some(match (self.lookup)(sheet.as_deref(), row, col) {
            Some(v) => v,
            None => Effective::Error("#REF!".into()),
        })
    }

    fn next_is(&self, c: char) -> bool {
        self.s.get(self.i) == Some(&c)
    }
}

fn arith(a: &Effective, b: &Effective, op: char) -> Effective {
    let (x, y) = match (to_number(a), to_number(b)) {
        (Ok(x), Ok(y)) => (x, y),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    match op {
        '+' => Effective::Number(x + y),
        '-' => Effective::Number(x - y),
        '*' => Effective::Number(x * y),
        _ if y == 0.0 => Effective::Error("#DIV/0!".into()),
        _ => Effective::Number(x / y),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn lookup(sheet: Option<&str>, row: u32, col: u32) -> Option<Effective> {
        match (sheet, row, col) {
            (None, 0, 0) => Some(Effective::Number(2.0)),
            (Some("Jon's"), 1, 1) => Some(Effective::Text("x".into())),
            (Some(_), _, _) => None,
            _ => Some(Effective::Empty),
        }
    }

    #[test]
    fn evaluates_the_small_language() {
        let e = |t| evaluate(t, &lookup);
        assert_eq!(e("=A1*3+1"), Some(Effective::Number(7.0)));
        assert_eq!(e("=(1+2)*-2"), Some(Effective::Number(-6.0)));
        assert_eq!(
            e("='Jon''s'!B2&\"-\"&A1"),
            Some(Effective::Text("x-2".into()))
        );
        assert_eq!(e("=1/0"), Some(Effective::Error("#DIV/0!".into())));
        assert_eq!(e("=Nope!A1"), Some(Effective::Error("#REF!".into())));
        assert_eq!(e("=TRUE"), Some(Effective::Bool(true)));
        assert_eq!(e("=SUM(A1:A3)"), None);
        assert_eq!(e("=IMPORTXML(\"http://x\",\"//a\")"), None);
    }
}
