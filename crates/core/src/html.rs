//! Text into HTML and SVG: the one escaping rule the monitor's report and the UI's charts share.

/// Escapes text for HTML/SVG content and for quoted attribute values.
///
/// ```
/// assert_eq!(
///     salescast_core::html::esc("<script>alert('x') & \"y\"</script>"),
///     "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
/// );
/// ```
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
