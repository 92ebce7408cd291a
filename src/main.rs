//! `cargo run --release`: the whole system in one process, on the embedded defaults: the
//! registry, audio instances that register with it, and the gateway in front on port 5000.

use std::path::PathBuf;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "audio-stack",
    about = "Runs the audio-recording system in one process"
)]
struct Args {
    /// Folder for recordings and their metadata, shared by every audio instance.
    #[arg(long, env = "STACK_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,

    /// How many audio instances to start.
    #[arg(long, env = "STACK_AUDIO_INSTANCES", default_value_t = 1)]
    audio_instances: usize,

    /// Port of the gateway (the pages and the API).
    #[arg(long, env = "STACK_GATEWAY_PORT", default_value_t = 5000)]
    gateway_port: u16,

    /// Port of the registry.
    #[arg(long, env = "STACK_REGISTRY_PORT", default_value_t = 8761)]
    registry_port: u16,
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args = Args::parse();

    let mut registry_settings = registry::Settings::from_env();
    registry_settings.port = args.registry_port;
    registry_settings.handle_signals = false;
    let registry = registry::Application::build(registry_settings).await?;
    let registry_url = format!("http://{}/eureka/", registry.address());

    let mut gateway_settings = gateway::Settings::from_env();
    gateway_settings.port = args.gateway_port;
    gateway_settings.registry_url = registry_url.clone();
    gateway_settings.discovery_refresh = std::time::Duration::from_secs(1);
    gateway_settings.handle_signals = false;
    // With users' tokens on (GATEWAY_JWT_SECRET or GATEWAY_JWKS_URL), the gateway vouches for
    // each user to the audio instances; in one process they can share a secret made up now.
    let jwt = gateway_settings.jwt.secret.is_some() || gateway_settings.jwt.jwks_url.is_some();
    if jwt && gateway_settings.jwt.identity_secret.is_none() {
        let made_up = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        gateway_settings.jwt.identity_secret = Some(made_up.into());
    }

    let mut audio = Vec::new();
    for n in 1..=args.audio_instances.max(1) {
        let mut settings = audio::Settings::from_env_for_data_dir(&args.data_dir);
        settings.identity_secret = gateway_settings.jwt.identity_secret.clone();
        settings.port = 0;
        settings.handle_signals = false;
        settings.registry.url = Some(registry_url.clone());
        // One process, one open-files limit: each session also holds the gateway's
        // descriptors, and the instances share what is left.
        settings.limits.descriptors_per_session = (audio::DESCRIPTORS_PER_SESSION
            + gateway::DESCRIPTORS_PER_RELAY)
            * u64::try_from(args.audio_instances.max(1)).unwrap_or(u64::MAX);
        // Everything runs on this host, so the gateway relays to each instance over a Unix
        // socket (cheaper than loopback TCP); one named by the registry's port cannot be another
        // stack's.
        settings.unix_socket = Some(
            std::env::temp_dir().join(format!("audio-stack-{}-audio-{n}.sock", args.registry_port)),
        );
        let app = match audio::Application::build(settings.clone()).await {
            Ok(app) => app,
            Err(err) => {
                log::warn!("audio instance {n}: {err}; serving over TCP only");
                settings.unix_socket = None;
                audio::Application::build(settings).await?
            }
        };
        audio.push(app);
    }

    let dev_signin = gateway_settings.jwt.dev_signin;
    let token = gateway_settings.token.is_some();
    let gateway = gateway::Application::build(gateway_settings).await?;
    let site = format!("http://{}", gateway.address());

    println!();
    println!("  record audio     {site}/websocket-test.html");
    println!("  recordings       {site}/file-list.html");
    println!("  registry         {site}/registry/");
    println!("  API (Swagger UI) {site}/swagger-ui/");
    for app in &audio {
        println!("  audio instance   http://{}/health", app.address());
    }
    println!("  data             {}", args.data_dir.display());
    match (jwt, dev_signin, token) {
        (true, true, _) => println!("  sign in          {site}/signin.html (development sign-in)"),
        (true, false, _) => println!("  access           a JWT from your identity provider on every API call"),
        (false, _, true) => println!("  access           the shared GATEWAY_TOKEN on every API call"),
        (false, _, false) => println!(
            "  access           open: anyone who reaches {site} can list, play and delete every recording\n                   (users and sign-in: docs/security.md)"
        ),
    }
    println!();

    // Ctrl-C or SIGTERM: the gateway stops taking requests, the audio instances shut down
    // gracefully (and deregister), then the registry.
    let gateway_handle = gateway.handle();
    let gateway_done = actix_web::rt::spawn(gateway.run_until_stopped());
    let audio_handles: Vec<_> = audio.iter().map(|a| a.shutdown_handle()).collect();
    let audio_done: Vec<_> = audio
        .into_iter()
        .map(|a| actix_web::rt::spawn(a.run_until_stopped()))
        .collect();
    let registry_handle = registry.handle();
    let registry_done = actix_web::rt::spawn(registry.run_until_stopped());

    let mut terminate =
        actix_web::rt::signal::unix::signal(actix_web::rt::signal::unix::SignalKind::terminate())?;
    futures_util::future::select(
        Box::pin(actix_web::rt::signal::ctrl_c()),
        Box::pin(terminate.recv()),
    )
    .await;
    log::info!("stopping: gateway, audio, then the registry");
    gateway_handle.stop(true).await;
    let _ = gateway_done.await;
    // Live recordings get their grace period, then end `interrupted` with their events written.
    futures_util::future::join_all(audio_handles.iter().map(|h| h.shutdown())).await;
    for done in audio_done {
        let _ = done.await;
    }
    registry_handle.stop(true).await;
    let _ = registry_done.await;
    Ok(())
}
