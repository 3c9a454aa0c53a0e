//! Node.js and the npm packages a test script needs (`npm ci` at the
//! workspace root installs them): the third-party peers of the interop
//! tests (oidc-provider, openid-client, the MCP SDK) and playwright-core.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `node` on PATH, with the workspace's `node_modules` checked.
#[derive(Debug, Clone)]
pub struct Node {
    program: PathBuf,
    workspace: PathBuf,
}

impl Node {
    /// `node` with every one of `packages` installed, or why not.
    pub fn locate(packages: &[&str]) -> Result<Self, String> {
        let workspace = crate::workspace_root();
        let Some(program) = crate::on_path("node") else {
            return Err("no `node` on PATH".to_owned());
        };
        if let Some(pkg) = packages
            .iter()
            .find(|p| !workspace.join("node_modules").join(p).is_dir())
        {
            return Err(format!(
                "no node_modules/{pkg} (run `npm ci` at the workspace root)"
            ));
        }
        Ok(Self { program, workspace })
    }

    /// As [`Node::locate`], through [`crate::require_service`]: `None` after
    /// printing why the test named `what` is skipped (a panic instead under
    /// `DEVAUTH_REQUIRE_SERVICES=1`).
    pub fn find(what: &str, packages: &[&str]) -> Option<Self> {
        match Self::locate(packages) {
            Ok(node) => Some(node),
            Err(why) => {
                crate::require_service(what, Some(&why));
                None
            }
        }
    }

    /// `node SCRIPT` (a path under the workspace root), run at the workspace
    /// root with stdin closed; the caller adds arguments and pipes.
    pub fn script(&self, script: impl AsRef<Path>) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.arg(self.workspace.join(script))
            .current_dir(&self.workspace)
            .stdin(Stdio::null());
        cmd
    }
}
