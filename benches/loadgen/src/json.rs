//! A minimal JSON object writer; enough for one flat report with nested
//! objects, without pulling in serde.

use std::fmt::Write;

/// Builds one JSON object, member by member.
pub struct JsonObject {
    buf: String,
    empty: bool,
}

impl Default for JsonObject {
    fn default() -> Self {
        Self::new()
    }
}

/// Appends `s` as a quoted JSON string.
fn push_str(buf: &mut String, s: &str) {
    buf.push('"');
    for c in s.chars() {
        match c {
            '"' => buf.push_str("\\\""),
            '\\' => buf.push_str("\\\\"),
            '\n' => buf.push_str("\\n"),
            '\r' => buf.push_str("\\r"),
            '\t' => buf.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(buf, "\\u{:04x}", c as u32);
            }
            c => buf.push(c),
        }
    }
    buf.push('"');
}

impl JsonObject {
    /// An empty object.
    pub fn new() -> Self {
        JsonObject {
            buf: String::from("{"),
            empty: true,
        }
    }

    fn key(&mut self, key: &str) {
        if !self.empty {
            self.buf.push(',');
        }
        self.empty = false;
        push_str(&mut self.buf, key);
        self.buf.push(':');
    }

    /// Adds a string member.
    pub fn string(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        push_str(&mut self.buf, value);
        self
    }

    /// Adds an integer member.
    pub fn uint(&mut self, key: &str, value: u64) -> &mut Self {
        self.key(key);
        let _ = write!(self.buf, "{value}");
        self
    }

    /// Adds a number with three decimals; NaN and infinities become null.
    pub fn float(&mut self, key: &str, value: f64) -> &mut Self {
        self.key(key);
        if value.is_finite() {
            let _ = write!(self.buf, "{value:.3}");
        } else {
            self.buf.push_str("null");
        }
        self
    }

    /// Adds a null member.
    fn null(&mut self, key: &str) -> &mut Self {
        self.key(key);
        self.buf.push_str("null");
        self
    }

    /// Adds a number, or null for `None`.
    pub fn opt_float(&mut self, key: &str, value: Option<f64>) -> &mut Self {
        match value {
            Some(v) => self.float(key, v),
            None => self.null(key),
        }
    }

    /// Adds an integer, or null for `None`.
    pub fn opt_uint(&mut self, key: &str, value: Option<u64>) -> &mut Self {
        match value {
            Some(v) => self.uint(key, v),
            None => self.null(key),
        }
    }

    /// Adds a string, or null for `None`.
    pub fn opt_string(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        match value {
            Some(v) => self.string(key, v),
            None => self.null(key),
        }
    }

    /// Adds a nested object.
    pub fn object(&mut self, key: &str, value: JsonObject) -> &mut Self {
        self.key(key);
        self.buf.push_str(&value.finish());
        self
    }

    /// The finished text.
    pub fn finish(mut self) -> String {
        self.buf.push('}');
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_every_kind_of_member() {
        let mut inner = JsonObject::new();
        inner.uint("p50", 12);
        let mut o = JsonObject::new();
        o.string("mode", "pingpong")
            .uint("n", 3)
            .float("rate", 1.23456)
            .float("bad", f64::NAN)
            .opt_float("none", None)
            .opt_uint("pid", Some(9))
            .object("lat", inner);
        assert_eq!(
            o.finish(),
            r#"{"mode":"pingpong","n":3,"rate":1.235,"bad":null,"none":null,"pid":9,"lat":{"p50":12}}"#
        );
    }

    #[test]
    fn escapes_strings() {
        let mut o = JsonObject::new();
        o.string("s", "a\"b\\c\n\u{1}é");
        assert_eq!(o.finish(), r#"{"s":"a\"b\\c\n\u0001é"}"#);
        assert_eq!(JsonObject::new().finish(), "{}");
    }
}
