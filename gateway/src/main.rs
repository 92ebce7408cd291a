use clap::Parser;

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    gateway::Application::build(gateway::Settings::parse())
        .await?
        .run_until_stopped()
        .await
}
