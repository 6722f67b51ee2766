//! A note prepared for the detectors: its word tokens with byte spans and lower-cased forms, and
//! whether it is written in capitals. Built once per note; never modifies the text.

use localdx_span::Span;

/// One word token: a maximal run of letters and digits, with apostrophes inside words kept
/// ("O'BRIEN" is one token, looked up as "obrien").
#[derive(Debug, Clone, Copy)]
pub struct Token {
    pub span: Span,
    /// Range of the lower-cased, apostrophe-free form in [`Doc::lower`].
    lower: (u32, u32),
    pub alpha: bool,
    pub digit: bool,
    /// Every letter is upper case (and there is at least one letter).
    pub upper: bool,
    /// First char upper case, the others lower case.
    pub title: bool,
}

/// A note and its tokens.
pub struct Doc<'t> {
    pub text: &'t str,
    pub tokens: Vec<Token>,
    lower: String,
    /// Most letters of the note are capitals (PhysioNet style).
    pub all_caps: bool,
    /// Capital letters carry information: neither capitals-only nor almost all lower case.
    pub cased: bool,
}

impl<'t> Doc<'t> {
    pub fn new(text: &'t str) -> Doc<'t> {
        let mut tokens = Vec::new();
        let mut lower = String::new();
        let (mut uppers, mut letters) = (0usize, 0usize);
        let mut iter = text.char_indices().peekable();
        while let Some((start, c)) = iter.next() {
            if !c.is_alphanumeric() {
                continue;
            }
            let lstart = lower.len();
            let (mut alpha, mut digit, mut all_upper, mut any_letter) = (true, true, true, false);
            let mut title = c.is_uppercase();
            let mut end = start;
            let mut first = true;
            let mut cur = Some((start, c));
            while let Some((i, ch)) = cur {
                if ch.is_alphanumeric() {
                    if ch.is_alphabetic() {
                        any_letter = true;
                        letters += 1;
                        digit = false;
                        if ch.is_uppercase() {
                            uppers += 1;
                            if !first {
                                title = false;
                            }
                        } else {
                            all_upper = false;
                        }
                    } else {
                        alpha = false;
                        title = false;
                    }
                    if ch.is_ascii() {
                        lower.push(ch.to_ascii_lowercase());
                    } else {
                        lower.extend(ch.to_lowercase());
                    }
                    end = i + ch.len_utf8();
                    first = false;
                } else if ch == '\'' || ch == '\u{2019}' {
                    // keep an apostrophe only between two letters
                    match iter.peek() {
                        Some(&(_, next)) if next.is_alphabetic() && end == i => {}
                        _ => break,
                    }
                } else {
                    break;
                }
                cur = match iter.peek() {
                    Some(&(j, nc)) if nc.is_alphanumeric() || nc == '\'' || nc == '\u{2019}' => {
                        iter.next();
                        Some((j, nc))
                    }
                    _ => None,
                };
            }
            // a possessive "'s" is not part of the word ("LE'S" is looked up as "le")
            let word = &text[start..end];
            if word.len() > 2 && (word.ends_with("'s") || word.ends_with("'S") || word.ends_with("\u{2019}s") || word.ends_with("\u{2019}S")) {
                lower.pop();
            }
            tokens.push(Token {
                span: Span::new(start, end),
                lower: (lstart as u32, lower.len() as u32),
                alpha,
                digit,
                upper: any_letter && all_upper,
                title: title && any_letter,
            });
        }
        let all_caps = letters > 0 && uppers * 10 >= letters * 7;
        let cased = !all_caps && uppers * 100 >= letters * 3;
        Doc { text, tokens, lower, all_caps, cased }
    }

    /// The lower-cased form of token `i`.
    pub fn lower(&self, i: usize) -> &str {
        let (s, e) = self.tokens[i].lower;
        &self.lower[s as usize..e as usize]
    }

    /// The token's text as written.
    pub fn word(&self, i: usize) -> &'t str {
        self.tokens[i].span.slice(self.text)
    }

    /// Index of the first token that starts at or after `byte`.
    pub fn token_at_or_after(&self, byte: usize) -> usize {
        self.tokens.partition_point(|t| t.span.start < byte)
    }

    /// Index of the first token that ends after `byte` (the token containing or following it).
    pub fn token_containing(&self, byte: usize) -> usize {
        self.tokens.partition_point(|t| t.span.end <= byte)
    }

    /// The text between tokens `i` and `i + 1`.
    pub fn gap_after(&self, i: usize) -> &'t str {
        let s = self.tokens[i].span.end;
        let e = self.tokens.get(i + 1).map_or(self.text.len(), |t| t.span.start);
        &self.text[s..e]
    }

    /// The text before token `i` back to the previous token.
    pub fn gap_before(&self, i: usize) -> &'t str {
        let e = self.tokens[i].span.start;
        let s = if i == 0 { 0 } else { self.tokens[i - 1].span.end };
        &self.text[s..e]
    }

    /// True when token `i` starts a sentence or a line (so a capital letter says nothing).
    pub fn starts_sentence(&self, i: usize) -> bool {
        if i == 0 {
            return true;
        }
        let gap = self.gap_before(i);
        gap.contains('\n') || gap.contains(". ") || gap.contains('!') || gap.contains('?') || gap.contains(':')
    }

    /// Whether token `i` is written like a proper noun: capitalised in mixed-case text, or any
    /// letters at all in capitals-only text.
    pub fn capitalised(&self, i: usize) -> bool {
        let t = &self.tokens[i];
        if !self.cased {
            t.alpha
        } else {
            t.alpha && self.word(i).starts_with(char::is_uppercase)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: &[&str], caps: bool) {
        let doc = Doc::new(text);
        let got: Vec<&str> = (0..doc.tokens.len()).map(|i| doc.lower(i)).collect();
        assert_eq!(got, expected, "{text:?}");
        assert_eq!(doc.all_caps, caps, "{text:?}");
    }

    #[test]
    fn tokens() {
        check("", &[], false);
        check("Mr. O'Brien, 74yo", &["mr", "obrien", "74yo"], false);
        check("SON'S CAR 'A'", &["son", "car", "a"], true);
        check("José Núñez-Díaz", &["josé", "núñez", "díaz"], false);
        check("'' ' 12/3", &["12", "3"], false);
    }
}
