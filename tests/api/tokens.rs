//! Organizer API tokens from the admin page: listed without their secrets, created with a
//! lifetime and shown once, revoked with a CSRF-protected button, bounded in number; an
//! expired or revoked token gets the same 401 as a wrong one.

use reqwest::{Client, StatusCode};
use serde_json::Value;

use crate::helpers::{TestApp, event_json};
use crate::pages::csrf_of;

pub async fn logged_in(app: &TestApp) -> Client {
    let browser = app.browser_client();
    let login = browser.get(app.url("/login")).send().await.unwrap();
    let csrf = csrf_of(&login.text().await.unwrap());
    let ok = browser
        .post(app.url("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", &app.organizer_email),
            ("password", &app.organizer_password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    browser
}

async fn tokens_page(app: &TestApp, browser: &Client) -> (String, String) {
    let response = browser.get(app.url("/admin/tokens")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.unwrap();
    (csrf_of(&html), html)
}

async fn create(app: &TestApp, browser: &Client, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let response = browser
        .post(app.url("/admin/tokens"))
        .form(fields)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

/// The secret shown on the page after a creation.
fn secret_of(html: &str) -> String {
    let start = html.find("<p><code>").expect("the new secret is shown") + 9;
    let end = start + html[start..].find("</code>").unwrap();
    html[start..end].to_owned()
}

/// The answer to an organizer-only call made with `token`.
async fn call_with(app: &TestApp, token: &str) -> (StatusCode, String) {
    let response = app
        .client
        .get(app.url("/api/v1/events/tokens-sprint/registrations"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn tokens_are_listed_created_once_expire_and_are_revoked(app: TestApp) {
    app.create_event(&event_json("tokens-sprint", None)).await;
    let browser = logged_in(&app).await;
    let (csrf, html) = tokens_page(&app, &browser).await;
    assert!(
        html.contains("created with the organizer") && !html.contains(&app.token),
        "the first token is listed, never its secret: {html}"
    );

    let (status, html) = create(
        &app,
        &browser,
        &[
            ("csrf", &csrf),
            ("label", "CI <nightly>"),
            ("expires_in", "7d"),
            ("expires_at", ""),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{html}");
    assert!(
        html.contains("(CI ") && !html.contains("<nightly>"),
        "the label is shown escaped: {html}"
    );
    let secret = secret_of(&html);
    assert!(secret.len() >= 43, "{secret}");
    let (status, _) = call_with(&app, &secret).await;
    assert_eq!(status, 200, "the new token works at once");
    let (_, html) = tokens_page(&app, &browser).await;
    assert!(!html.contains(&secret), "the secret is shown once only");
    assert_eq!(
        html.matches("never</td>").count(),
        1,
        "both tokens were used; only the first never expires: {html}"
    );

    // Invalid input changes nothing and names the field.
    for (fields, message) in [
        (
            [("label", "x"), ("expires_in", "7w"), ("expires_at", "")],
            "is not a lifetime",
        ),
        (
            [
                ("label", "x"),
                ("expires_in", ""),
                ("expires_at", "2001-01-01"),
            ],
            "must be in the future",
        ),
        (
            [("label", "a\u{7}b"), ("expires_in", ""), ("expires_at", "")],
            "single line",
        ),
    ] {
        let mut with_csrf = vec![("csrf", csrf.as_str())];
        with_csrf.extend(fields);
        let (status, html) = create(&app, &browser, &with_csrf).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
        assert!(html.contains(message), "{fields:?}: {html}");
    }
    let (status, _) = create(&app, &browser, &[("label", "no csrf")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, html) = tokens_page(&app, &browser).await;
    assert_eq!(html.matches("/revoke\"").count(), 2, "still two tokens");

    // Expired: the same answer as a token that never existed.
    let (_, wrong) = call_with(&app, "Xq9wrongwrongwrongwrongwrongwrongwrongwrong").await;
    app.clock.advance(chrono::Duration::days(8));
    let (status, expired) = call_with(&app, &secret).await;
    assert_eq!((status, &expired), (StatusCode::UNAUTHORIZED, &wrong));
    let (_, html) = tokens_page(&app, &browser).await;
    assert!(html.contains("expired "), "{html}");

    // Revoked: refused at once; only with the form's CSRF token; only one's own.
    let first_id = first_token_id(&html);
    let revoke = |id: i64, csrf: Option<String>| {
        let browser = browser.clone();
        let url = app.url(&format!("/admin/tokens/{id}/revoke"));
        async move {
            let form: Vec<(&str, String)> = csrf.into_iter().map(|c| ("csrf", c)).collect();
            browser.post(url).form(&form).send().await.unwrap().status()
        }
    };
    assert_eq!(revoke(first_id, None).await, StatusCode::FORBIDDEN);
    assert_eq!(call_with(&app, &app.token).await.0, 200, "nothing revoked");
    assert_eq!(
        revoke(first_id + 1000, Some(csrf.clone())).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        revoke(first_id, Some(csrf.clone())).await,
        StatusCode::SEE_OTHER
    );
    let (status, revoked) = call_with(&app, &app.token).await;
    assert_eq!((status, &revoked), (StatusCode::UNAUTHORIZED, &wrong));
    let problem: Value = serde_json::from_str(&revoked).unwrap();
    assert_eq!(problem["type"], "urn:convene:problem:unauthorized");
}

fn first_token_id(html: &str) -> i64 {
    let start = html.find("/admin/tokens/").expect("a revoke form") + 14;
    let end = start + html[start..].find('/').unwrap();
    html[start..end].parse().unwrap()
}

async fn an_organizer_holds_a_bounded_number_of_tokens(app: TestApp) {
    let browser = logged_in(&app).await;
    let (csrf, _) = tokens_page(&app, &browser).await;
    let max = convene::db::organizers::MAX_API_TOKENS;
    for i in 1..max {
        let label = format!("t{i}");
        let (status, html) = create(&app, &browser, &[("csrf", &csrf), ("label", &label)]).await;
        assert_eq!(status, StatusCode::CREATED, "{i}: {html}");
    }
    let (status, html) = create(&app, &browser, &[("csrf", &csrf), ("label", "one more")]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("revoke one first"), "{html}");
    assert!(!html.contains("one more</td>"));
}

crate::on_both_backends!(
    tokens_are_listed_created_once_expire_and_are_revoked,
    an_organizer_holds_a_bounded_number_of_tokens,
);
