//! billing-server's tests: the real server over HTTP on 127.0.0.1, a real database, the Toss
//! simulator on its own listener or in its own process. Every story runs on SQLite and on
//! PostgreSQL (`TEST_POSTGRES_URL`, a throw-away cluster that `./scripts/test.sh` starts).
//!
//! Without `TEST_POSTGRES_URL` the PostgreSQL runs fail and say why, unless the person running the
//! tests asked to skip them (`SKIP_POSTGRES=1`): then they are reported as ignored, never passed.

mod charges;
mod crash;
mod described;
mod handoff;
mod instances;
mod limits;
mod operate;
mod refunds;
mod sessions;
mod settings;
mod simulator;
mod simulator_refunds;
mod simulator_webhooks;
mod subscriptions;
mod support;
mod terms;
mod web;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use libtest_mimic::{Arguments, Failed, Trial};
use support::Db;

/// A story: its name, which databases it runs on, and the test.
pub struct Story {
    name: &'static str,
    databases: &'static [Db],
    run: fn(Db) -> Pin<Box<dyn Future<Output = ()> + Send>>,
}

/// Both databases.
pub const BOTH: &[Db] = &[Db::Sqlite, Db::Postgres];
/// Stories about the process or the files, not the database.
pub const SQLITE: &[Db] = &[Db::Sqlite];

#[macro_export]
macro_rules! stories {
    ($($databases:expr => $name:ident),* $(,)?) => {
        pub fn all() -> Vec<$crate::Story> {
            vec![$($crate::Story {
                name: concat!(module_path!(), "::", stringify!($name)),
                databases: $databases,
                run: |db| Box::pin($name(db)),
            }),*]
        }
    };
}

fn main() {
    let args = Arguments::from_args();
    let postgres = std::env::var("TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let skip_postgres = std::env::var("SKIP_POSTGRES").is_ok_and(|v| v == "1");
    let stories = [
        handoff::all(),
        charges::all(),
        sessions::all(),
        limits::all(),
        settings::all(),
        simulator::all(),
        simulator_refunds::all(),
        simulator_webhooks::all(),
        web::all(),
        crash::all(),
        instances::all(),
        subscriptions::all(),
        terms::all(),
        refunds::all(),
        operate::all(),
        described::all(),
    ]
    .into_iter()
    .flatten();
    let mut trials = Vec::new();
    for story in stories {
        for &db in story.databases {
            let name = format!(
                "{}::{}",
                db.name(),
                story.name.trim_start_matches("server::")
            );
            let run = story.run;
            let postgres = postgres.clone();
            let trial = Trial::test(name, move || {
                if db == Db::Postgres && postgres.is_none() {
                    return Err(Failed::from(
                        "TEST_POSTGRES_URL is not set: ./scripts/test.sh starts a throw-away PostgreSQL \
                         (scripts/postgres.sh); SKIP_POSTGRES=1 skips these runs",
                    ));
                }
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("a runtime");
                runtime.block_on(async move {
                    tokio::time::timeout(Duration::from_secs(180), run(db))
                        .await
                        .map_err(|_| Failed::from("the story did not finish in 180 s"))
                })
            });
            trials.push(trial.with_ignored_flag(db == Db::Postgres && skip_postgres));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
