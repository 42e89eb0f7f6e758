//! Tokens of the shell's Ruby-like syntax, as HBase's shell reads it:
//! `put 'users', "row\x001", 'info:name', 'Ada', 1700000000000`.
//!
//! - single-quoted strings: only `\\` and `\'` are escapes, as in Ruby;
//! - double-quoted strings: `\\ \" \' \n \t \r \0 \e \s \xHH` (one or two hex digits),
//!   any other escaped character stands for itself;
//! - integers, with an optional `-` and `_` separators; bare words (`NAME`, `true`);
//! - `=>`, `{ } [ ] ( )`, `,` and `;` (which separates commands on one line);
//! - `#` starts a comment that runs to the end of the line.
//!
//! An unterminated string is [`LexError::Incomplete`], so the shell can read one more
//! line before parsing.

use std::fmt;

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    /// A quoted string, as bytes (escapes can make it non-UTF-8).
    Str(Vec<u8>),
    /// An integer literal.
    Int(i64),
    /// A bare word: a command, an option name, `true`, `false`, `nil`.
    Ident(String),
    /// `=>`
    Arrow,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `,`
    Comma,
    /// `;` or a line break between commands
    Semicolon,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Str(s) => write!(f, "'{}'", String::from_utf8_lossy(s)),
            Token::Int(n) => write!(f, "{n}"),
            Token::Ident(s) => f.write_str(s),
            Token::Arrow => f.write_str("=>"),
            Token::LBrace => f.write_str("{"),
            Token::RBrace => f.write_str("}"),
            Token::LBracket => f.write_str("["),
            Token::RBracket => f.write_str("]"),
            Token::LParen => f.write_str("("),
            Token::RParen => f.write_str(")"),
            Token::Comma => f.write_str(","),
            Token::Semicolon => f.write_str(";"),
        }
    }
}

/// Why a line could not be split into tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexError {
    /// The input ends inside a string: more lines may complete it.
    Incomplete(String),
    /// Bad input at a character offset.
    Invalid {
        /// 0-based character offset.
        at: usize,
        /// What is wrong.
        message: String,
    },
}

impl fmt::Display for LexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LexError::Incomplete(m) => f.write_str(m),
            LexError::Invalid { at, message } => write!(f, "{message} at column {}", at + 1),
        }
    }
}

/// Splits `input` into tokens. A line break outside brackets ends a command (it becomes
/// `Semicolon`); inside brackets or after `,` or `=>` it is whitespace.
pub fn tokenize(input: &str) -> Result<Vec<Token>, LexError> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut depth = 0i32;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' if depth == 0 && !matches!(tokens.last(), Some(Token::Comma | Token::Arrow)) => {
                tokens.push(Token::Semicolon);
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '\'' | '"' => {
                let (s, next) = string(&chars, i)?;
                tokens.push(Token::Str(s));
                i = next;
            }
            '=' if chars.get(i + 1) == Some(&'>') => {
                tokens.push(Token::Arrow);
                i += 2;
            }
            '{' | '[' | '(' => {
                depth += 1;
                tokens.push(match c {
                    '{' => Token::LBrace,
                    '[' => Token::LBracket,
                    _ => Token::LParen,
                });
                i += 1;
            }
            '}' | ']' | ')' => {
                depth -= 1;
                tokens.push(match c {
                    '}' => Token::RBrace,
                    ']' => Token::RBracket,
                    _ => Token::RParen,
                });
                i += 1;
            }
            ',' => {
                tokens.push(Token::Comma);
                i += 1;
            }
            ';' => {
                tokens.push(Token::Semicolon);
                i += 1;
            }
            c if c.is_ascii_digit() || (c == '-' && next_is_digit(&chars, i)) => {
                let (n, next) = integer(&chars, i)?;
                tokens.push(Token::Int(n));
                i = next;
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                tokens.push(Token::Ident(chars[start..i].iter().collect()));
            }
            other => {
                return Err(LexError::Invalid {
                    at: i,
                    message: format!("unexpected character {other:?}"),
                });
            }
        }
    }
    Ok(tokens)
}

fn next_is_digit(chars: &[char], i: usize) -> bool {
    chars.get(i + 1).is_some_and(char::is_ascii_digit)
}

fn integer(chars: &[char], start: usize) -> Result<(i64, usize), LexError> {
    let mut i = start + usize::from(chars[start] == '-');
    let mut text: String = chars[start..i].iter().collect();
    while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '_') {
        if chars[i] != '_' {
            text.push(chars[i]);
        }
        i += 1;
    }
    if i < chars.len() && (chars[i].is_ascii_alphabetic() || chars[i] == '.') {
        return Err(LexError::Invalid {
            at: i,
            message: "numbers must be integers; quote other values".into(),
        });
    }
    let n = text.parse::<i64>().map_err(|_| LexError::Invalid {
        at: start,
        message: format!("integer {text} is out of range (at most {})", i64::MAX),
    })?;
    Ok((n, i))
}

/// A quoted string starting at `chars[start]`; returns its bytes and the next offset.
fn string(chars: &[char], start: usize) -> Result<(Vec<u8>, usize), LexError> {
    let quote = chars[start];
    let mut out = Vec::new();
    let mut i = start + 1;
    while i < chars.len() {
        let c = chars[i];
        if c == quote {
            return Ok((out, i + 1));
        }
        if c != '\\' || i + 1 >= chars.len() {
            push_char(&mut out, c);
            i += 1;
            continue;
        }
        let e = chars[i + 1];
        i += 2;
        if quote == '\'' {
            if e != '\\' && e != '\'' {
                out.push(b'\\');
            }
            push_char(&mut out, e);
            continue;
        }
        match e {
            'n' => out.push(b'\n'),
            't' => out.push(b'\t'),
            'r' => out.push(b'\r'),
            '0' => out.push(0),
            'e' => out.push(0x1b),
            's' => out.push(b' '),
            'x' => {
                let digits: String = chars[i..]
                    .iter()
                    .take(2)
                    .take_while(|d| d.is_ascii_hexdigit())
                    .collect();
                if digits.is_empty() {
                    return Err(LexError::Invalid {
                        at: i - 2,
                        message: "\\x must be followed by one or two hex digits".into(),
                    });
                }
                i += digits.len();
                out.push(u8::from_str_radix(&digits, 16).unwrap_or_default());
            }
            other => push_char(&mut out, other),
        }
    }
    Err(LexError::Incomplete(format!(
        "unterminated string starting at column {}",
        start + 1
    )))
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use Token::*;

    fn s(v: &str) -> Token {
        Str(v.as_bytes().to_vec())
    }

    #[test]
    fn a_put_line() {
        let tokens = tokenize("put 'users', 'row1', 'info:name', 'Ada', 1_700").unwrap();
        assert_eq!(
            tokens,
            vec![
                Ident("put".into()),
                s("users"),
                Comma,
                s("row1"),
                Comma,
                s("info:name"),
                Comma,
                s("Ada"),
                Comma,
                Int(1700),
            ]
        );
    }

    #[test]
    fn quoting_follows_ruby() {
        assert_eq!(
            tokenize(r#""a\x00b\x7""#).unwrap(),
            vec![Str(b"a\0b\x07".to_vec())]
        );
        assert_eq!(
            tokenize(r#""tab\there\n\"q\"""#).unwrap(),
            vec![s("tab\there\n\"q\"")]
        );
        assert_eq!(
            tokenize(r"'it\'s \x00 \\'").unwrap(),
            vec![s(r"it's \x00 \")]
        );
        assert_eq!(tokenize(r#""\q ü""#).unwrap(), vec![s("q ü")]);
        assert_eq!(tokenize(r#""\xff""#).unwrap(), vec![Str(vec![0xff])]);
    }

    #[test]
    fn hashes_arrays_and_comments() {
        let tokens = tokenize("scan 't', {LIMIT => -5, COLUMNS => ['f']} # all\n").unwrap();
        assert_eq!(
            tokens,
            vec![
                Ident("scan".into()),
                s("t"),
                Comma,
                LBrace,
                Ident("LIMIT".into()),
                Arrow,
                Int(-5),
                Comma,
                Ident("COLUMNS".into()),
                Arrow,
                LBracket,
                s("f"),
                RBracket,
                RBrace,
                Semicolon,
            ]
        );
        // A line break inside brackets is whitespace.
        let tokens = tokenize("get('t',\n'r')").unwrap();
        assert!(!tokens.contains(&Semicolon));
    }

    #[test]
    fn errors_are_located() {
        assert!(matches!(
            tokenize("put 't', 'r"),
            Err(LexError::Incomplete(_))
        ));
        let err = tokenize("put 't' @").unwrap_err();
        assert_eq!(err.to_string(), "unexpected character '@' at column 9");
        assert!(
            tokenize("incr 't', 1.5")
                .unwrap_err()
                .to_string()
                .contains("integers")
        );
        assert!(
            tokenize(r#""\xg""#)
                .unwrap_err()
                .to_string()
                .contains("hex")
        );
        assert!(
            tokenize("99999999999999999999")
                .unwrap_err()
                .to_string()
                .contains("range")
        );
    }
}
