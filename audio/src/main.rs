use clap::Parser;

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let mut settings = audio::Settings::parse();
    // SIGTERM and Ctrl-C run the graceful shutdown below instead of actix's own.
    settings.handle_signals = false;
    let app = match audio::Application::build(settings).await {
        Ok(app) => app,
        Err(err) => {
            // One line that says what is wrong (a port taken, a database unreachable).
            eprintln!("audio: cannot start: {err}");
            std::process::exit(1);
        }
    };
    let shutdown = app.shutdown_handle();
    let running = actix_web::rt::spawn(app.run_until_stopped());
    let mut terminate =
        actix_web::rt::signal::unix::signal(actix_web::rt::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = terminate.recv() => log::info!("SIGTERM"),
        _ = actix_web::rt::signal::ctrl_c() => log::info!("Ctrl-C"),
    }
    shutdown.shutdown().await;
    running.await.map_err(std::io::Error::other)?
}
