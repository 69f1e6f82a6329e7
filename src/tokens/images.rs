//! Content parts that are images: their size read from the inline data's header, priced
//! as OpenAI's vision models price it.

use std::borrow::Cow;

use super::pyrepr::py_repr_to_string;
use super::value::{get, Node};

/// Image detail levels (CAMEL's `OpenAIVisionDetailType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Detail {
    Auto,
    Low,
    High,
}

const IMAGE_PREFIXES: [&str; 5] = [
    "data:image/png;base64,",
    "data:image/jpeg;base64,",
    "data:image/jpg;base64,",
    "data:image/webp;base64,",
    "data:image/gif;base64,",
];

pub(super) fn image_part_tokens(
    fields: &[(Cow<'_, str>, Node<'_>)],
) -> std::result::Result<usize, String> {
    let (url, detail) = match get(fields, "image_url") {
        Some(Node::Dict(image)) => (get(image, "url"), get(image, "detail")),
        Some(url @ Node::Str(_)) => (Some(url), None),
        _ => return Ok(0),
    };
    let Some(Node::Str(url)) = url else {
        return Ok(0);
    };
    // Only inline images can be measured; a remote image would have to be fetched.
    if !url.starts_with("data:image") {
        return Ok(0);
    }
    let payload = image_payload(url).ok_or_else(|| {
        "the image URL is not data:image/{png,jpeg,jpg,webp,gif};base64,...".to_owned()
    })?;
    let bytes = python_b64decode(payload)
        .map_err(|why| format!("the image's base64 data does not decode: {why}"))?;
    let size = imagesize::blob_size(&bytes)
        .map_err(|e| format!("the image data is not a readable image ({e})"))?;
    let detail = match detail {
        None | Some(Node::Null) => Detail::Auto,
        Some(Node::Str(s)) if s == "auto" => Detail::Auto,
        Some(Node::Str(s)) if s == "low" => Detail::Low,
        Some(Node::Str(s)) if s == "high" => Detail::High,
        Some(other) => {
            return Err(format!(
                "unknown image detail {} (expected 'auto', 'low' or 'high')",
                py_repr_to_string(other)
            ))
        }
    };
    image_tokens(size.width as u64, size.height as u64, detail)
}

/// The base64 text after CAMEL's data-URL prefix: the first of png, jpeg, jpg, webp, gif
/// whose prefix occurs anywhere in the URL, up to that prefix's next occurrence
/// (`url.split(prefix)[1]`).
fn image_payload(url: &str) -> Option<&str> {
    IMAGE_PREFIXES.iter().find_map(|prefix| {
        let at = url.find(prefix)?;
        let rest = url.get(at + prefix.len()..)?;
        Some(
            rest.find(prefix)
                .and_then(|end| rest.get(..end))
                .unwrap_or(rest),
        )
    })
}

/// Python's `base64.b64decode(s)` (not validating): characters outside the base64
/// alphabet are skipped, decoding stops at the padding that completes a quad, and a
/// dangling partial quad is an error.
fn python_b64decode(s: &str) -> std::result::Result<Vec<u8>, String> {
    if !s.is_ascii() {
        return Err("string argument should contain only ASCII characters".to_owned());
    }
    let mut out = Vec::with_capacity(s.len() / 4 * 3 + 3);
    let mut quad_pos = 0u8;
    let mut left = 0u8;
    let mut pads = 0u8;
    for &byte in s.as_bytes() {
        if byte == b'=' {
            if quad_pos >= 2 {
                pads = pads.saturating_add(1);
                if quad_pos + pads >= 4 {
                    return Ok(out);
                }
            }
            continue;
        }
        let Some(v) = b64_value(byte) else {
            continue;
        };
        pads = 0;
        match quad_pos {
            0 => {
                left = v;
                quad_pos = 1;
            }
            1 => {
                out.push((left << 2) | (v >> 4));
                left = v & 0x0f;
                quad_pos = 2;
            }
            2 => {
                out.push((left << 4) | (v >> 2));
                left = v & 0x03;
                quad_pos = 3;
            }
            _ => {
                out.push((left << 6) | v);
                left = 0;
                quad_pos = 0;
            }
        }
    }
    match quad_pos {
        0 => Ok(out),
        1 => Err(format!(
            "Invalid base64-encoded string: number of data characters ({}) cannot be 1 \
             more than a multiple of 4",
            out.len() / 3 * 4 + 1
        )),
        _ => Err("Incorrect padding".to_owned()),
    }
}

fn b64_value(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// CAMEL's `_count_tokens_from_image`, in the same floating-point steps.
fn image_tokens(width: u64, height: u64, detail: Detail) -> std::result::Result<usize, String> {
    const LOW_DETAIL_TOKENS: u64 = 85;
    const FIT_SQUARE_PIXELS: u64 = 2048;
    const SHORTEST_SIDE_PIXELS: f64 = 768.0;
    const SQUARE_PIXELS: u64 = 512;
    const SQUARE_TOKENS: u64 = 170;
    const EXTRA_TOKENS: u64 = 85;

    if detail == Detail::Low {
        return Ok(LOW_DETAIL_TOKENS as usize);
    }
    let (mut w, mut h) = (width, height);
    if w > FIT_SQUARE_PIXELS || h > FIT_SQUARE_PIXELS {
        let scaling = w.max(h) as f64 / FIT_SQUARE_PIXELS as f64;
        w = (w as f64 / scaling) as u64;
        h = (h as f64 / scaling) as u64;
    }
    if w == 0 || h == 0 {
        // CAMEL divides by zero here (ZeroDivisionError).
        return Err(format!(
            "cannot count a {width}x{height} image: a side scales to 0 pixels"
        ));
    }
    let scaling = w.min(h) as f64 / SHORTEST_SIDE_PIXELS;
    let scaled_w = (w as f64 / scaling) as u64;
    let scaled_h = (h as f64 / scaling) as u64;
    let tiles = scaled_h.div_ceil(SQUARE_PIXELS) * scaled_w.div_ceil(SQUARE_PIXELS);
    usize::try_from(EXTRA_TOKENS + SQUARE_TOKENS * tiles).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::FIXTURE;
    use serde_json::Value;

    #[test]
    fn image_math() {
        assert_eq!(image_tokens(1024, 1024, Detail::High), Ok(765));
        assert_eq!(image_tokens(2048, 4096, Detail::High), Ok(1105));
        assert_eq!(image_tokens(2048, 4096, Detail::Auto), Ok(1105));
        assert_eq!(image_tokens(2048, 4096, Detail::Low), Ok(85));
        assert_eq!(image_tokens(1, 1, Detail::High), Ok(765));
        assert_eq!(image_tokens(512, 512, Detail::High), Ok(765));
        assert_eq!(image_tokens(4096, 8192, Detail::High), Ok(1105));
        assert_eq!(image_tokens(800, 600, Detail::High), Ok(765));
        assert_eq!(image_tokens(1920, 1080, Detail::High), Ok(1105));
        assert!(image_tokens(0, 10, Detail::High).is_err());
        assert!(image_tokens(1, 10_000, Detail::High).is_err());
        assert_eq!(image_tokens(0, 0, Detail::Low), Ok(85));
    }

    #[test]
    fn b64_like_python() {
        assert_eq!(python_b64decode("aGk=").unwrap(), b"hi");
        assert_eq!(python_b64decode("aGk").unwrap_err(), "Incorrect padding");
        assert_eq!(python_b64decode("aGk=ignored").unwrap(), b"hi");
        assert_eq!(python_b64decode("a G\nk=").unwrap(), b"hi");
        assert_eq!(python_b64decode("aGkh").unwrap(), b"hi!");
        assert_eq!(python_b64decode("").unwrap(), b"");
        assert!(python_b64decode("a")
            .unwrap_err()
            .contains("cannot be 1 more"));
        assert!(python_b64decode("aGk=é").is_err());
        assert_eq!(python_b64decode("=aGk=").unwrap(), b"hi");
        assert_eq!(python_b64decode("aG==").unwrap(), b"h");
        assert_eq!(python_b64decode("aG=\n=").unwrap(), b"h");
        assert_eq!(python_b64decode("-_aGkh").unwrap(), b"hi!");
    }

    #[test]
    fn data_url_payload() {
        assert_eq!(image_payload("data:image/png;base64,AAA"), Some("AAA"));
        assert_eq!(image_payload("data:image/jpg;base64,AAA"), Some("AAA"));
        assert_eq!(
            image_payload("data:image/png;base64,AA data:image/png;base64,BB"),
            Some("AA ")
        );
        assert_eq!(image_payload("data:image/svg+xml;base64,AAA"), None);
        assert_eq!(image_payload("data:image/png,AAA"), None);
    }

    #[test]
    fn python_b64decode_matches_fixture() {
        let doc: Value = serde_json::from_str(FIXTURE).unwrap();
        let cases = doc["base64"].as_array().unwrap();
        assert!(cases.len() > 300);
        for pair in cases {
            let text = pair[0].as_str().unwrap();
            let got = python_b64decode(text)
                .ok()
                .map(|bytes| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
            assert_eq!(got.as_deref(), pair[1].as_str(), "b64decode({text:?})");
        }
    }
}
