//! `cargo run --release`: the whole system in one process, on the embedded defaults: the
//! registry, then an audio instance that registers with it.

use std::path::PathBuf;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "audio-stack",
    about = "Runs the audio-recording system in one process"
)]
struct Args {
    /// Folder for recordings and their metadata.
    #[arg(long, env = "STACK_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,

    /// Port of the registry.
    #[arg(long, env = "STACK_REGISTRY_PORT", default_value_t = 8761)]
    registry_port: u16,

    /// Port of the audio service (0 picks a free one).
    #[arg(long, env = "STACK_AUDIO_PORT", default_value_t = 8081)]
    audio_port: u16,
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args = Args::parse();

    let mut registry_settings = registry::Settings::defaults();
    registry_settings.port = args.registry_port;
    registry_settings.handle_signals = false;
    let registry = registry::Application::build(registry_settings).await?;
    let registry_address = registry.address();

    let mut audio_settings = audio::Settings::for_data_dir(&args.data_dir);
    audio_settings.port = args.audio_port;
    audio_settings.handle_signals = false;
    audio_settings.registry_url = Some(format!("http://{registry_address}/eureka/"));
    let audio = audio::Application::build(audio_settings).await?;
    let audio_address = audio.address();

    println!();
    println!("  registry         http://{registry_address}/");
    println!("  audio service    http://{audio_address}/health");
    println!("  recording socket ws://{audio_address}/ws/record");
    println!("  recordings       http://{audio_address}/api/recordings");
    println!();

    // Ctrl-C stops the audio service gracefully (it deregisters), then the registry.
    let registry_handle = registry.handle();
    let audio_handle = audio.handle();
    let registry_done = actix_web::rt::spawn(registry.run_until_stopped());
    let audio_done = actix_web::rt::spawn(audio.run_until_stopped());
    actix_web::rt::signal::ctrl_c().await?;
    log::info!("stopping: audio service first, then the registry");
    audio_handle.stop(true).await;
    let audio_result = audio_done.await.unwrap_or(Ok(()));
    registry_handle.stop(true).await;
    let registry_result = registry_done.await.unwrap_or(Ok(()));
    audio_result.and(registry_result)
}
