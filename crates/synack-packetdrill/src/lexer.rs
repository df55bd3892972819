//! Tokenizer for packetdrill scripts.
//!
//! Owns the lexical rules: comments (`//` and `/* */`), `%{ }%` code blocks,
//! quoted and backquoted strings, `--option` names, numbers (decimal,
//! hexadecimal, fractional), IPv4 and IPv6 addresses, words and single
//! punctuation characters. Newlines are not significant: like packetdrill,
//! the parser works on the token stream, and statements may span lines.
//!
//! Every token records its 1-based line and column and its byte range in the
//! source so the parser can quote it in errors.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::parser::ParseError;

/// Kind of a token. The raw text is available through [`Token::text`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// `[A-Za-z0-9_]+` that is not a number.
    Word,
    /// Decimal integer, maybe negative: `[-]?[0-9]+`.
    Int,
    /// `0x[0-9a-fA-F]+`.
    HexInt,
    /// `[-]?[0-9]*\.[0-9]+`.
    Float,
    /// `"..."`, with the text between the quotes.
    Str(String),
    /// `` `...` ``, with the text between the backquotes.
    Backquoted(String),
    /// `%{ ... }%`, with the inner text trimmed of spaces and tabs.
    Code(String),
    /// `--name`, with the name.
    OptionName(String),
    /// `...`.
    Ellipsis,
    /// A dotted-quad IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 address.
    Ipv6(Ipv6Addr),
    /// Any other single character.
    Punct(char),
    /// End of input.
    Eof,
}

/// A token with its position.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) kind: Tok,
    /// 1-based line.
    pub(crate) line: usize,
    /// 1-based column, counted in characters.
    pub(crate) column: usize,
    /// Byte offset of the first character.
    pub(crate) start: usize,
    /// Byte offset just past the last character.
    pub(crate) end: usize,
}

impl Token {
    /// The source text of the token.
    pub(crate) fn text<'a>(&self, src: &'a str) -> &'a str {
        src.get(self.start..self.end).unwrap_or("")
    }

    /// True when this is the punctuation character `c`.
    pub(crate) fn is_punct(&self, c: char) -> bool {
        self.kind == Tok::Punct(c)
    }
}

/// Longest IPv6 address text we try to recognize (with an embedded IPv4).
const MAX_IPV6_TEXT: usize = 45;

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: usize,
    column: usize,
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl<'a> Lexer<'a> {
    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.bytes.get(self.pos + offset).copied()
    }

    fn starts_with(&self, s: &str) -> bool {
        self.bytes
            .get(self.pos..)
            .is_some_and(|rest| rest.starts_with(s.as_bytes()))
    }

    /// Advances over `n` bytes, keeping line and column up to date.
    /// Only ever called with `n` ending on a character boundary.
    fn advance(&mut self, n: usize) {
        let end = (self.pos + n).min(self.bytes.len());
        let chunk = self.src.get(self.pos..end).unwrap_or("");
        for c in chunk.chars() {
            if c == '\n' {
                self.line += 1;
                self.column = 1;
            } else {
                self.column += 1;
            }
        }
        self.pos = end;
    }

    fn error(&self, line: usize, column: usize, message: String) -> ParseError {
        ParseError {
            line,
            column,
            message,
        }
    }

    /// Length of the run of word bytes starting at `from`.
    fn word_len_from(&self, from: usize) -> usize {
        self.bytes.get(from..).map_or(0, |rest| {
            rest.iter().take_while(|&&b| is_word_byte(b)).count()
        })
    }

    fn digits_len_from(&self, from: usize) -> usize {
        self.bytes.get(from..).map_or(0, |rest| {
            rest.iter().take_while(|b| b.is_ascii_digit()).count()
        })
    }

    /// Skips whitespace and comments. Errors on an unterminated `/*`.
    fn skip_trivia(&mut self) -> Result<(), ParseError> {
        loop {
            let Some(c) = self.src.get(self.pos..).and_then(|s| s.chars().next()) else {
                return Ok(());
            };
            if c.is_whitespace() {
                self.advance(c.len_utf8());
            } else if self.starts_with("//") {
                let len = self.bytes[self.pos..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .unwrap_or(self.bytes.len() - self.pos);
                self.advance(len);
            } else if self.starts_with("/*") {
                let (line, column) = (self.line, self.column);
                match self.src[self.pos + 2..].find("*/") {
                    Some(i) => self.advance(i + 4),
                    None => {
                        return Err(self.error(line, column, "unterminated /* comment".into()));
                    }
                }
            } else {
                return Ok(());
            }
        }
    }

    /// Reads a `"` or `` ` `` delimited text; backslash escapes the next
    /// character. Returns the text between the delimiters.
    fn delimited(&mut self, delim: u8, what: &str) -> Result<String, ParseError> {
        let (line, column) = (self.line, self.column);
        let mut i = self.pos + 1;
        while i < self.bytes.len() {
            match self.bytes[i] {
                b'\\' => i += 2,
                b if b == delim => {
                    let text = self.src.get(self.pos + 1..i).unwrap_or("").to_string();
                    self.advance(i + 1 - self.pos);
                    return Ok(text);
                }
                _ => i += 1,
            }
        }
        Err(self.error(line, column, format!("unterminated {what}")))
    }

    /// Tries to read an IPv6 address at the current position; returns its
    /// byte length. Requires the longest candidate prefix to parse and not
    /// to be followed by a word character, so that sequence ranges like
    /// `1:1001` are never taken for addresses.
    fn ipv6_len(&self) -> Option<(usize, Ipv6Addr)> {
        let rest = self.bytes.get(self.pos..)?;
        let run = rest
            .iter()
            .take(MAX_IPV6_TEXT)
            .take_while(|&&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
            .count();
        let candidate = self.src.get(self.pos..self.pos + run)?;
        if !candidate.contains("::") && candidate.matches(':').count() < 7 {
            return None;
        }
        (2..=run).rev().find_map(|len| {
            let text = candidate.get(..len)?;
            let next = rest.get(len).copied();
            if next.is_some_and(is_word_byte) {
                return None;
            }
            text.parse::<Ipv6Addr>().ok().map(|a| (len, a))
        })
    }

    /// Tries to read a dotted-quad IPv4 address; returns its byte length.
    fn ipv4_len(&self) -> Option<usize> {
        let mut i = self.pos;
        for part in 0..4 {
            let digits = self.digits_len_from(i);
            if digits == 0 {
                return None;
            }
            i += digits;
            if part < 3 {
                if self.bytes.get(i) != Some(&b'.') {
                    return None;
                }
                i += 1;
            }
        }
        Some(i - self.pos)
    }

    /// Reads a number or a word starting at the current position.
    fn number_or_word(&mut self) -> Result<Tok, ParseError> {
        let (line, column) = (self.line, self.column);
        if let Some(len) = self.ipv4_len() {
            let text = &self.src[self.pos..self.pos + len];
            return match text.parse::<Ipv4Addr>() {
                Ok(addr) => {
                    self.advance(len);
                    Ok(Tok::Ipv4(addr))
                }
                Err(_) => Err(self.error(line, column, format!("invalid IPv4 address `{text}`"))),
            };
        }
        let negative = self.peek_at(0) == Some(b'-');
        let start = self.pos + usize::from(negative);
        let run = self.word_len_from(start);
        let word = &self.src[start..start + run];
        let all_digits = !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit());
        let fraction_follows = self.bytes.get(start + run) == Some(&b'.')
            && self
                .bytes
                .get(start + run + 1)
                .is_some_and(u8::is_ascii_digit);
        if (all_digits || run == 0) && fraction_follows {
            let frac = self.digits_len_from(start + run + 1);
            self.advance(start + run + 1 + frac - self.pos);
            return Ok(Tok::Float);
        }
        if negative {
            // Only reached with a digit after '-': `[-]?[0-9]+`.
            let digits = self.digits_len_from(start);
            self.advance(1 + digits);
            return Ok(Tok::Int);
        }
        self.advance(run);
        if all_digits {
            Ok(Tok::Int)
        } else if word.len() > 2
            && (word.starts_with("0x") || word.starts_with("0X"))
            && word[2..].bytes().all(|b| b.is_ascii_hexdigit())
        {
            Ok(Tok::HexInt)
        } else {
            Ok(Tok::Word)
        }
    }

    fn next_token(&mut self) -> Result<Token, ParseError> {
        self.skip_trivia()?;
        let (line, column, start) = (self.line, self.column, self.pos);
        let make = |kind: Tok, end: usize| Token {
            kind,
            line,
            column,
            start,
            end,
        };
        let Some(c) = self.src.get(self.pos..).and_then(|s| s.chars().next()) else {
            return Ok(make(Tok::Eof, start));
        };
        let b = self.bytes[self.pos];
        let kind = if self.starts_with("%{") {
            match self.src[self.pos + 2..].find("}%") {
                Some(i) => {
                    let inner = &self.src[self.pos + 2..self.pos + 2 + i];
                    let code = inner.trim_matches(|c| c == ' ' || c == '\t').to_string();
                    self.advance(i + 4);
                    Tok::Code(code)
                }
                None => {
                    return Err(self.error(line, column, "unterminated %{ code block".into()));
                }
            }
        } else if b == b'"' {
            Tok::Str(self.delimited(b'"', "string")?)
        } else if b == b'`' {
            Tok::Backquoted(self.delimited(b'`', "backquoted command")?)
        } else if self.starts_with("...") {
            self.advance(3);
            Tok::Ellipsis
        } else if self.starts_with("--") && self.word_len_from(self.pos + 2) > 0 {
            let len = self.word_len_from(self.pos + 2);
            let name = self.src[self.pos + 2..self.pos + 2 + len].to_string();
            self.advance(2 + len);
            Tok::OptionName(name)
        } else if let Some((len, addr)) = self.ipv6_len() {
            self.advance(len);
            Tok::Ipv6(addr)
        } else if is_word_byte(b)
            || (b == b'-' && self.peek_at(1).is_some_and(|n| n.is_ascii_digit()))
            || (b == b'-'
                && self.peek_at(1) == Some(b'.')
                && self.peek_at(2).is_some_and(|n| n.is_ascii_digit()))
            || (b == b'.' && self.peek_at(1).is_some_and(|n| n.is_ascii_digit()))
        {
            self.number_or_word()?
        } else {
            self.advance(c.len_utf8());
            Tok::Punct(c)
        };
        Ok(make(kind, self.pos))
    }
}

/// Splits `src` into tokens, ending with one [`Tok::Eof`].
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, ParseError> {
    let mut lexer = Lexer {
        src,
        bytes: src.as_bytes(),
        pos: 0,
        line: 1,
        column: 1,
    };
    let mut tokens = Vec::new();
    loop {
        let token = lexer.next_token()?;
        let done = token.kind == Tok::Eof;
        tokens.push(token);
        if done {
            return Ok(tokens);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Tok, String)> {
        tokenize(src)
            .unwrap()
            .into_iter()
            .map(|t| (t.kind.clone(), t.text(src).to_string()))
            .collect()
    }

    #[test]
    fn blocking_time_splits_around_ellipsis() {
        let k = kinds("+0...0.100 +.1...0.2");
        let texts: Vec<&str> = k.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(
            texts,
            ["+", "0", "...", "0.100", "+", ".1", "...", "0.2", ""]
        );
        assert_eq!(k[1].0, Tok::Int);
        assert_eq!(k[3].0, Tok::Float);
        assert_eq!(k[5].0, Tok::Float);
    }

    #[test]
    fn sequence_range_is_not_ipv6() {
        let k = kinds("1:1001(1000) 0:0(0)");
        assert_eq!(k[0].0, Tok::Int);
        assert!(k[1].0 == Tok::Punct(':'));
    }

    #[test]
    fn addresses() {
        let k = kinds("192.0.2.1:8080 2::2222 > 1::1111: ::ffff:10.0.0.1");
        assert_eq!(k[0].0, Tok::Ipv4(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(k[1].0, Tok::Punct(':'));
        assert_eq!(k[2].0, Tok::Int);
        assert!(matches!(k[3].0, Tok::Ipv6(_)));
        assert_eq!(k[5].1, "1::1111");
        assert_eq!(k[6].0, Tok::Punct(':'));
        assert_eq!(k[7].1, "::ffff:10.0.0.1");
    }

    #[test]
    fn words_numbers_and_flags() {
        let k = kinds("P.6 0x1F abcd1234 -1 -.5 S. --tolerance_usecs=5");
        let got: Vec<(Tok, &str)> = k.iter().map(|(k, t)| (k.clone(), t.as_str())).collect();
        assert_eq!(got[0], (Tok::Word, "P"));
        assert_eq!(got[1], (Tok::Float, ".6"));
        assert_eq!(got[2], (Tok::HexInt, "0x1F"));
        assert_eq!(got[3], (Tok::Word, "abcd1234"));
        assert_eq!(got[4], (Tok::Int, "-1"));
        assert_eq!(got[5], (Tok::Float, "-.5"));
        assert_eq!(got[6], (Tok::Word, "S"));
        assert_eq!(got[7], (Tok::Punct('.'), "."));
        assert_eq!(got[8].0, Tok::OptionName("tolerance_usecs".into()));
    }

    #[test]
    fn comments_code_and_commands() {
        let src = "// c\n/* multi\nline */ %{  x = 1\t}% `echo \\` hi` \"a\\\"b\"";
        let toks = tokenize(src).unwrap();
        assert_eq!(toks[0].kind, Tok::Code("x = 1".into()));
        assert_eq!(toks[0].line, 3);
        assert_eq!(toks[0].column, 9);
        assert_eq!(toks[1].kind, Tok::Backquoted("echo \\` hi".into()));
        assert_eq!(toks[2].kind, Tok::Str("a\\\"b".into()));
    }

    #[test]
    fn unterminated_things_are_errors() {
        for (src, what) in [
            ("/* x", "comment"),
            ("%{ x", "code"),
            ("\"abc", "string"),
            ("`abc", "backquoted"),
        ] {
            let err = tokenize(src).unwrap_err();
            assert!(err.message.contains(what), "{src}: {err}");
            assert_eq!((err.line, err.column), (1, 1));
        }
    }
}
