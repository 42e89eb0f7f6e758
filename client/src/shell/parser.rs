//! Statements of the shell: a command name and its arguments, as Ruby would read them.
//!
//! `create 't', {NAME => 'f'}, SPLITS => ['g']` has three arguments: a string, a hash,
//! and a hash built from the bare `key => value` pairs at the end (Ruby's implicit
//! trailing hash). Arguments may be wrapped in parentheses: `get('t', 'r')`. Hash keys
//! are upper-cased, so `{name => 'f'}` works like `{NAME => 'f'}`.

use std::fmt;

use bytes::Bytes;

use super::lexer::{LexError, Token, tokenize};

/// An argument value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A quoted string.
    Str(Bytes),
    /// An integer.
    Int(i64),
    /// `true` or `false`.
    Bool(bool),
    /// `nil`
    Nil,
    /// Another bare word, e.g. `ROW` in `BLOOMFILTER => ROW`.
    Ident(String),
    /// `[a, b]`
    Array(Vec<Value>),
    /// `{K => v}`; keys upper-cased, in input order.
    Hash(Vec<(String, Value)>),
}

impl Value {
    /// How the value is named in error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Int(_) => "a number",
            Value::Bool(_) => "a boolean",
            Value::Nil => "nil",
            Value::Ident(_) => "a bare word",
            Value::Array(_) => "an array",
            Value::Hash(_) => "a hash",
        }
    }
}

/// One command and its arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// The command, lower-cased.
    pub name: String,
    /// Its arguments.
    pub args: Vec<Value>,
}

/// Why input did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The input stops inside a string or brackets, or after `,` or `=>`: read another
    /// line and try again.
    Incomplete(String),
    /// The input is wrong; the message says where.
    Invalid(String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Incomplete(m) => write!(f, "incomplete input: {m}"),
            ParseError::Invalid(m) => write!(f, "syntax error: {m}"),
        }
    }
}

impl From<LexError> for ParseError {
    fn from(e: LexError) -> Self {
        match e {
            LexError::Incomplete(m) => ParseError::Incomplete(m),
            LexError::Invalid { .. } => ParseError::Invalid(e.to_string()),
        }
    }
}

/// Parses every statement of `input` (separated by `;` or line breaks); empty
/// statements are skipped.
pub fn parse(input: &str) -> Result<Vec<Statement>, ParseError> {
    let tokens = tokenize(input)?;
    check_complete(&tokens)?;
    let mut parser = Parser { tokens, pos: 0 };
    let mut statements = Vec::new();
    while parser.pos < parser.tokens.len() {
        if parser.eat(&Token::Semicolon) {
            continue;
        }
        statements.push(parser.statement()?);
    }
    Ok(statements)
}

/// Input that ends inside brackets or after a separator needs another line.
fn check_complete(tokens: &[Token]) -> Result<(), ParseError> {
    let mut depth = 0i32;
    for t in tokens {
        match t {
            Token::LBrace | Token::LBracket | Token::LParen => depth += 1,
            Token::RBrace | Token::RBracket | Token::RParen => depth -= 1,
            _ => {}
        }
    }
    if depth > 0 {
        return Err(ParseError::Incomplete("unclosed bracket".into()));
    }
    match tokens.iter().rev().find(|t| **t != Token::Semicolon) {
        Some(t @ (Token::Comma | Token::Arrow)) => {
            Err(ParseError::Incomplete(format!("input ends with {t}")))
        }
        _ => Ok(()),
    }
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek2(&self) -> Option<&Token> {
        self.tokens.get(self.pos + 1)
    }

    fn eat(&mut self, t: &Token) -> bool {
        if self.peek() == Some(t) {
            self.pos += 1;
            return true;
        }
        false
    }

    fn next(&mut self) -> Result<Token, ParseError> {
        let t = self
            .peek()
            .cloned()
            .ok_or_else(|| ParseError::Invalid("unexpected end of input".into()))?;
        self.pos += 1;
        Ok(t)
    }

    fn statement(&mut self) -> Result<Statement, ParseError> {
        let name = match self.next()? {
            Token::Ident(name) => name.to_ascii_lowercase(),
            other => {
                return Err(ParseError::Invalid(format!(
                    "expected a command name, found {other}"
                )));
            }
        };
        let parens = self.eat(&Token::LParen);
        let mut args = Vec::new();
        let mut trailing: Vec<(String, Value)> = Vec::new();
        loop {
            match self.peek() {
                None | Some(Token::Semicolon) if !parens => break,
                Some(Token::RParen) if parens => {
                    self.pos += 1;
                    break;
                }
                None => return Err(ParseError::Invalid("missing ')'".into())),
                _ => {}
            }
            if !args.is_empty() || !trailing.is_empty() {
                self.expect(&Token::Comma, "',' between arguments")?;
            }
            if self.peek2() == Some(&Token::Arrow) {
                trailing.push(self.pair()?);
            } else if trailing.is_empty() {
                args.push(self.value()?);
            } else {
                return Err(ParseError::Invalid(
                    "an argument follows 'KEY => value' options; put options last".into(),
                ));
            }
        }
        if !trailing.is_empty() {
            args.push(Value::Hash(trailing));
        }
        if let Some(t) = self.peek()
            && *t != Token::Semicolon
        {
            return Err(ParseError::Invalid(format!("unexpected {t} after ')'")));
        }
        Ok(Statement { name, args })
    }

    fn expect(&mut self, t: &Token, what: &str) -> Result<(), ParseError> {
        match self.next()? {
            found if found == *t => Ok(()),
            found => Err(ParseError::Invalid(format!(
                "expected {what}, found {found}"
            ))),
        }
    }

    fn pair(&mut self) -> Result<(String, Value), ParseError> {
        let key = match self.next()? {
            Token::Ident(k) => k.to_ascii_uppercase(),
            Token::Str(k) => String::from_utf8_lossy(&k).to_ascii_uppercase(),
            other => {
                return Err(ParseError::Invalid(format!(
                    "expected an option name before '=>', found {other}"
                )));
            }
        };
        self.expect(&Token::Arrow, "'=>'")?;
        Ok((key, self.value()?))
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        match self.next()? {
            Token::Str(s) => Ok(Value::Str(Bytes::from(s))),
            Token::Int(n) => Ok(Value::Int(n)),
            Token::Ident(w) => Ok(match w.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "nil" => Value::Nil,
                _ => Value::Ident(w),
            }),
            Token::LBracket => self.array(),
            Token::LBrace => self.hash(),
            other => Err(ParseError::Invalid(format!(
                "expected a value, found {other}"
            ))),
        }
    }

    fn array(&mut self) -> Result<Value, ParseError> {
        let mut items = Vec::new();
        while !self.eat(&Token::RBracket) {
            if !items.is_empty() {
                self.expect(&Token::Comma, "',' or ']'")?;
                if self.eat(&Token::RBracket) {
                    break; // trailing comma
                }
            }
            items.push(self.value()?);
        }
        Ok(Value::Array(items))
    }

    fn hash(&mut self) -> Result<Value, ParseError> {
        let mut pairs = Vec::new();
        while !self.eat(&Token::RBrace) {
            if !pairs.is_empty() {
                self.expect(&Token::Comma, "',' or '}'")?;
                if self.eat(&Token::RBrace) {
                    break;
                }
            }
            pairs.push(self.pair()?);
        }
        Ok(Value::Hash(pairs))
    }
}

#[cfg(test)]
#[path = "parser/tests.rs"]
mod tests;
