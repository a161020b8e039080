//! The templates every message is sent with: its text as queued, in a plain-text and an HTML
//! part of one layout, links made clickable. Rendering is a pure function of the outbox row,
//! so a message sent again after a crash is the same message.

/// The plain-text and HTML bodies of a message whose text is `body`.
pub fn bodies(kind: &str, body: &str, portal_url: &str) -> (String, String) {
    let why = reason(kind);
    let text = format!(
        "{}\n\n-- \nZippCRM · {portal_url}\n{why}\n",
        body.trim_end()
    );
    let paragraphs: String = body
        .trim()
        .split("\n\n")
        .map(|p| {
            let lines: Vec<String> = p.lines().map(linkify).collect();
            format!("<p style=\"margin:0 0 16px\">{}</p>", lines.join("<br>"))
        })
        .collect();
    let html = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head>\
         <body style=\"margin:0;padding:24px;background:#f4f5f7;font-family:Helvetica,Arial,sans-serif;color:#1f2933\">\
         <div style=\"max-width:560px;margin:0 auto;background:#ffffff;border-radius:6px;padding:24px\">\
         <div style=\"font-size:18px;font-weight:bold;margin-bottom:16px\">ZippCRM</div>{paragraphs}\
         <hr style=\"border:none;border-top:1px solid #e4e7eb;margin:24px 0 12px\">\
         <div style=\"font-size:12px;color:#7b8794\"><a href=\"{portal}\">{portal}</a><br>{why}</div>\
         </div></body></html>",
        portal = escape(portal_url),
        why = escape(why),
    );
    (text, html)
}

/// Why the recipient receives a message of `kind`.
fn reason(kind: &str) -> &'static str {
    match kind {
        "set_password" => "You receive this because your firm invited you to its client portal.",
        "password_reset" => {
            "You receive this because someone asked to reset your password. If it was not you, ignore it: nothing changes."
        }
        "request_reminder" => "You receive this because a document request of yours is due.",
        "digest" => {
            "You receive this daily digest because you chose it in your notification preferences."
        }
        _ => {
            "You receive this because of your work in ZippCRM; choose which notifications come by email in your notification preferences."
        }
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
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

/// `line` escaped, with each http(s) address in it a link.
fn linkify(line: &str) -> String {
    line.split(' ')
        .map(|word| {
            if word.starts_with("https://") || word.starts_with("http://") {
                let url = escape(word);
                format!("<a href=\"{url}\">{url}</a>")
            } else {
                escape(word)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_parts_carry_the_text_and_the_html_one_escapes_it_and_links_addresses() {
        let (text, html) = bodies(
            "set_password",
            "Hello <Asha> & co,\n\nSet it here:\n\nhttps://portal.example/set-password?token=a&b\n",
            "https://portal.example",
        );
        assert!(text.starts_with("Hello <Asha> & co,"));
        assert!(text.contains("https://portal.example/set-password?token=a&b"));
        assert!(html.contains("Hello &lt;Asha&gt; &amp; co,"));
        assert!(html.contains(
            "<a href=\"https://portal.example/set-password?token=a&amp;b\">https://portal.example/set-password?token=a&amp;b</a>"
        ));
        assert!(!html.contains("<Asha>"));
    }
}
