//! Helpers shared by resp-conn's integration tests.

use resp_conn::{Connection, cmd};

/// Makes the ACL user `listener` (password `pw`) allowed every command and key, and
/// only the channels `rules` give (`&chan1`, `&pat*`).
pub fn listener_may_use(admin: &mut Connection, rules: &[&str]) {
    let mut c = cmd("ACL");
    c.arg("SETUSER")
        .arg("listener")
        .arg("on")
        .arg(">pw")
        .arg("~*")
        .arg("+@all")
        .arg("resetchannels")
        .args(rules);
    admin.query::<()>(&c).unwrap();
}
