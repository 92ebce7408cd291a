//! `cargo run --release`: the whole system in one process, on the embedded defaults.

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

    /// Port of the audio service (0 picks a free one).
    #[arg(long, env = "STACK_AUDIO_PORT", default_value_t = 8081)]
    audio_port: u16,
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args = Args::parse();
    let mut settings = audio::Settings::for_data_dir(&args.data_dir);
    settings.port = args.audio_port;
    let app = audio::Application::build(settings).await?;
    let address = app.address();
    println!();
    println!("  audio service    http://{address}/health");
    println!("  recording socket ws://{address}/ws/record");
    println!("  recordings       http://{address}/api/recordings");
    println!();
    app.run_until_stopped().await
}
