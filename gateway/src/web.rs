//! The browser pages of `web/`: embedded in the binary, or read from a folder while developing
//! (`GATEWAY_WEB_DIR`). Only names of the page set are served; nothing else on disk is reachable.

use std::borrow::Cow;
use std::path::PathBuf;

use actix_web::{HttpRequest, HttpResponse};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../web/"]
struct Embedded;

/// Serves `path` (`/` is `index.html`; `/record` and `/files` are aliases of the two pages).
pub fn serve(req: &HttpRequest, disk: Option<&PathBuf>) -> Option<HttpResponse> {
    let name = match req.path() {
        "/" => "index.html",
        "/record" => "websocket-test.html",
        "/files" => "file-list.html",
        other => other.trim_start_matches('/'),
    };
    // The embedded set decides what exists, also when reading from disk.
    let embedded = Embedded::get(name)?;
    let body: Cow<'static, [u8]> = match disk {
        Some(dir) => Cow::Owned(std::fs::read(dir.join(name)).ok()?),
        None => embedded.data,
    };
    let mime = mime_guess::from_path(name).first_or_octet_stream();
    Some(
        HttpResponse::Ok()
            .content_type(mime.as_ref())
            .insert_header(("cache-control", "no-cache"))
            .body(body.into_owned()),
    )
}
