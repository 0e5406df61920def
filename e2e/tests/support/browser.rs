//! Browsers and their WebDriver servers. Each test spawns its own driver in a new process group,
//! so the driver and every browser process it started can be ended together, by that group's id,
//! even when a test panics (see `Drop for Driver`).

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};

use super::Step;

/// Which browser drives the test: every story runs in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Browser {
    /// Headless Chromium through chromedriver.
    Chromium,
    /// Headless Firefox (ESR) through geckodriver.
    Firefox,
}

impl Browser {
    /// `chromium` or `firefox`: test names, artifact folders, `E2E_SKIP_BROWSERS`.
    pub fn name(self) -> &'static str {
        match self {
            Browser::Chromium => "chromium",
            Browser::Firefox => "firefox",
        }
    }
}

/// The kind of device the customer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    /// A desktop window, 1280×900.
    Desktop,
    /// A phone: 390×844 viewport, touch, an iPhone user agent (the component then picks `self`).
    Phone,
}

/// An iPhone Safari user agent: what makes both the component and the SDK treat this as mobile.
pub const PHONE_USER_AGENT: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) \
     AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
    })
}

/// A running WebDriver server (and, through it, the browser).
pub struct Driver {
    child: Child,
    port: u16,
    profile: PathBuf,
}

impl Driver {
    /// The driver binary for `browser`, or `None` when it is not installed.
    pub fn locate(browser: Browser) -> Option<PathBuf> {
        match browser {
            Browser::Chromium => std::env::var_os("CHROMEDRIVER")
                .map(PathBuf::from)
                .or_else(|| which("chromedriver")),
            Browser::Firefox => std::env::var_os("GECKODRIVER")
                .map(PathBuf::from)
                .or_else(|| which("geckodriver")),
        }
    }

    /// Spawns the driver on a free port and waits until it accepts connections.
    pub async fn spawn(browser: Browser, binary: PathBuf) -> Step<Driver> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut command = Command::new(&binary);
        match browser {
            Browser::Chromium => command.arg(format!("--port={port}")),
            Browser::Firefox => command.args(["--port", &port.to_string()]),
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let profile = std::env::temp_dir().join(format!("toss-e2e-profile-{}", child.id()));
        let driver = Driver {
            child,
            port,
            profile,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                return Err(format!("{} did not start listening", binary.display()).into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(driver)
    }

    /// Opens a browser session.
    pub async fn session(&self, browser: Browser, device: Device) -> Step<Client> {
        let capabilities = match browser {
            Browser::Chromium => {
                let mut args = vec![
                    "--headless=new".to_owned(),
                    "--no-sandbox".to_owned(),
                    "--disable-dev-shm-usage".to_owned(),
                    "--disable-gpu".to_owned(),
                    "--no-first-run".to_owned(),
                    "--hide-scrollbars".to_owned(),
                    "--force-device-scale-factor=1".to_owned(),
                    "--lang=ko-KR".to_owned(),
                    format!("--user-data-dir={}", self.profile.display()),
                ];
                if device == Device::Desktop {
                    args.push("--window-size=1280,900".to_owned());
                }
                let mut options = json!({ "binary": chromium_binary(), "args": args });
                if device == Device::Phone {
                    options["mobileEmulation"] = json!({
                        "deviceMetrics": { "width": 390, "height": 844, "pixelRatio": 2, "touch": true },
                        "userAgent": PHONE_USER_AGENT,
                    });
                }
                json!({ "browserName": "chrome", "goog:chromeOptions": options })
            }
            Browser::Firefox => {
                let (width, height) = match device {
                    Device::Desktop => (1280, 900),
                    Device::Phone => (390, 844),
                };
                let mut prefs = json!({ "intl.accept_languages": "ko-KR, ko" });
                if device == Device::Phone {
                    prefs["general.useragent.override"] = json!(PHONE_USER_AGENT);
                }
                json!({
                    "browserName": "firefox",
                    "moz:firefoxOptions": {
                        "args": ["-headless", format!("--width={width}"), format!("--height={height}")],
                        "prefs": prefs,
                    },
                })
            }
        };
        let Value::Object(mut capabilities) = capabilities else {
            unreachable!("capabilities are an object")
        };
        // Navigation returns at DOMContentLoaded, not at `load`: a customer sees and uses the page
        // before `load`, which waits for the SDK script the page starts early (scripts/boot.js).
        // Every step waits for what it looks for anyway.
        capabilities.insert("pageLoadStrategy".to_owned(), json!("eager"));
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .map_err(|e| format!("cannot open a {browser:?} session: {e}"))?;
        Ok(client)
    }
}

fn chromium_binary() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned())
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: the driver and the browser processes it started. Only the group this
        // test created (its id is the driver's pid).
        let group = self.child.id() as libc::pid_t;
        // SAFETY: plain syscall on a process group we created; no memory is shared.
        unsafe {
            libc::kill(-group, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_millis(1500);
        while Instant::now() < deadline {
            // SAFETY: signal 0 only checks whether any process of the group is left.
            if unsafe { libc::kill(-group, 0) } != 0 {
                break;
            }
            let _ = self.child.try_wait();
            std::thread::sleep(Duration::from_millis(50));
        }
        // SAFETY: as above.
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
