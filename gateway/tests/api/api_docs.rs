//! The audio service's OpenAPI document (derived from its handlers) and Swagger UI for it,
//! through the gateway.

use std::collections::BTreeSet;

use crate::helpers::*;

#[actix_rt::test]
async fn swagger_ui_reads_the_document_the_service_derives_from_its_handlers() {
    let stack = Stack::start(1).await;

    // springdoc's address and the bare path lead to the UI.
    for path in ["/swagger-ui.html", "/swagger-ui"] {
        let response = awc::Client::builder()
            .disable_redirects()
            .finish()
            .get(stack.http(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 302, "{path}");
        assert_eq!(
            response.headers().get("location").unwrap(),
            "/swagger-ui/",
            "{path}"
        );
    }
    let (status, page) = get_bytes(&stack.http("/swagger-ui/")).await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&page).contains("swagger-ui"));
    let (status, init) = get_bytes(&stack.http("/swagger-ui/swagger-initializer.js")).await;
    assert_eq!(status, 200);
    assert!(
        String::from_utf8_lossy(&init).contains("/api/openapi.json"),
        "the UI is pointed at the service's document"
    );

    // The document, through the gateway: every REST route the service mounts, each method.
    let (status, doc) = get_json(&stack.http("/api/openapi.json")).await;
    assert_eq!(status, 200);
    let operations: BTreeSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|key| ["get", "post", "delete"].contains(&key.as_str()))
                .map(move |method| format!("{} {path}", method.to_uppercase()))
        })
        .collect();
    let expected: BTreeSet<String> = [
        "GET /health",
        "GET /api/files",
        "GET /api/download/{fileName}",
        "GET /api/recordings",
        "GET /api/recordings/{id}",
        "DELETE /api/recordings/{id}",
        "GET /api/recordings/{id}/audio",
        "POST /record/start",
        "POST /record/idle",
        "POST /record/end",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(operations, expected);

    // Its schemas are the types': a recording's states as `RecordingState` serializes them,
    // and the limits `ListParams` checks.
    let states: BTreeSet<&str> = doc["components"]["schemas"]["RecordingState"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|state| state.as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        BTreeSet::from([
            "recording",
            "completed",
            "interrupted",
            "storing",
            "processing",
            "ready",
            "failed"
        ])
    );
    let limit = doc["paths"]["/api/recordings"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap()
        .clone();
    assert_eq!(limit["schema"]["maximum"], 200);
    assert_eq!(limit["in"], "query");
}
