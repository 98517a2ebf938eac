//! `pvwatch user add|passwd|token|list|remove PIPELINE.toml …`: the logic behind the
//! commands (clap definitions in `main.rs`). Each opens the pipeline's review database
//! (creating and migrating it on first use) and prints in the pipeline's language.
//!
//! Passwords are never arguments: read from the terminal with echo off, or as one line on
//! stdin when stdin is not a terminal (for scripts: `printf '%s\n' "$PW" | pvwatch user
//! passwd …`).

use std::io::{BufRead, IsTerminal, Write};

use super::{DbError, DbResult, ReviewDb, Role};
use crate::{Lang, Pipeline};

/// One `pvwatch user` action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserAction {
    Add {
        name: String,
        role: String,
        region: Option<String>,
    },
    Passwd {
        name: String,
    },
    Token {
        name: String,
    },
    List,
    Remove {
        name: String,
    },
}

/// Run a `pvwatch user` action; returns the text to print on stdout.
pub async fn run_user(pipeline: &Pipeline, action: &UserAction) -> DbResult<String> {
    let lang = pipeline.lang;
    // Refuse bad arguments before creating a database file.
    if let UserAction::Add { role, region, name } = action {
        super::users::check_name(name).map_err(|e| localize(e, lang))?;
        role.parse::<Role>().map_err(|e| localize(e, lang))?;
        if let Some(r) = region {
            super::users::check_region(r).map_err(|e| localize(e, lang))?;
        }
    }
    let db = ReviewDb::open(pipeline).await?;
    let out = run_with(&db, lang, action, &mut read_password).await;
    db.close().await;
    out.map_err(|e| localize(e, lang))
}

/// The action over an open database, with the password source given (tests pass one).
pub async fn run_with(
    db: &ReviewDb,
    lang: Lang,
    action: &UserAction,
    password: &mut dyn FnMut(&str, Lang) -> DbResult<String>,
) -> DbResult<String> {
    let zh = lang == Lang::Zh;
    match action {
        UserAction::Add { name, role, region } => {
            let role: Role = role.parse()?;
            let u = db.add_user(name, role, region.as_deref()).await?;
            let place = region_text(u.region.as_deref(), lang);
            Ok(if zh {
                format!(
                    "已添加用户 `{}`（角色 {}，{place}）。用 `pvwatch user passwd` 设置密码后方可登录。",
                    u.name, u.role
                )
            } else {
                format!(
                    "added user `{}` (role {}, {place}); set a password with `pvwatch user passwd` before they can log in",
                    u.name, u.role
                )
            })
        }
        UserAction::Passwd { name } => {
            db.user(name).await?;
            let pw = password(name, lang)?;
            db.set_password(name, &pw).await?;
            Ok(if zh {
                format!("已设置用户 `{name}` 的密码；其原有会话已失效。")
            } else {
                format!("password set for user `{name}`; their existing sessions are ended")
            })
        }
        UserAction::Token { name } => {
            // The token alone on stdout, for `TOKEN=$(pvwatch user token …)`.
            let token = db.new_api_token(name).await?;
            eprintln!(
                "{}",
                if zh {
                    format!("用户 `{name}` 的 API 令牌只显示这一次；脚本发送 `Authorization: Bearer <令牌>`。")
                } else {
                    format!("the API token of user `{name}` is shown only this once; scripts send `Authorization: Bearer <token>`")
                }
            );
            Ok(token)
        }
        UserAction::List => {
            let users = db.users().await?;
            if users.is_empty() {
                return Ok(if zh {
                    "（没有用户；用 `pvwatch user add` 添加）".to_string()
                } else {
                    "(no users; add one with `pvwatch user add`)".to_string()
                });
            }
            let header = if zh {
                ["用户", "角色", "地区", "创建时间 (UTC)"]
            } else {
                ["name", "role", "region", "created (UTC)"]
            };
            let rows: Vec<[String; 4]> = users
                .iter()
                .map(|u| {
                    let mut created = u
                        .created_at
                        .get(..19)
                        .unwrap_or(&u.created_at)
                        .replace('T', " ");
                    if !u.has_password {
                        created.push_str(if zh {
                            "（未设密码）"
                        } else {
                            " (no password)"
                        });
                    }
                    [
                        u.name.clone(),
                        u.role.to_string(),
                        region_text(u.region.as_deref(), lang),
                        created,
                    ]
                })
                .collect();
            Ok(table(header, &rows))
        }
        UserAction::Remove { name } => {
            db.remove_user(name).await?;
            Ok(if zh {
                format!("已删除用户 `{name}`（其会话与令牌一并删除；主题历史保留其姓名）。")
            } else {
                format!("removed user `{name}` with their sessions and tokens (topic history keeps their name)")
            })
        }
    }
}

/// `杭州市 (330100)`, or the whole scope.
fn region_text(region: Option<&str>, lang: Lang) -> String {
    match (region, lang) {
        (Some(r), _) => crate::regions::label(r),
        (None, Lang::Zh) => "全部地区".to_string(),
        (None, Lang::En) => "all regions".to_string(),
    }
}

/// Columns padded to their widest cell, counted in characters (a terminal that shows CJK
/// double-width will show those columns a little ragged; the order stays readable).
fn table(header: [&str; 4], rows: &[[String; 4]]) -> String {
    let mut width = header.map(|h| h.chars().count());
    for r in rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: [&str; 4]| -> String {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(width).enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            s.push_str(c);
            if i < 3 {
                s.push_str(&" ".repeat(w - c.chars().count()));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = vec![line(header)];
    for r in rows {
        out.push(line([&r[0], &r[1], &r[2], &r[3]]));
    }
    out.join("\n")
}

/// Chinese for the errors a user of the CLI corrects; others stay as the database said.
fn localize(e: DbError, lang: Lang) -> DbError {
    if lang != Lang::Zh {
        return e;
    }
    match e {
        DbError::UnknownUser(n) => DbError::Invalid(format!("未知用户 `{n}` (unknown user)")),
        DbError::UserExists(n) => {
            DbError::Invalid(format!("用户 `{n}` 已存在 (user already exists)"))
        }
        DbError::Invalid(m) if m.starts_with("role:") => {
            DbError::Invalid(format!("角色应为 `admin`、`reviewer` 或 `viewer` ({m})"))
        }
        DbError::Invalid(m) if m.starts_with("region:") => {
            DbError::Invalid(format!("地区应为 6 位 GB/T 2260 行政区划代码 ({m})"))
        }
        DbError::Invalid(m) if m.starts_with("password:") => DbError::Invalid(format!(
            "密码至少 {} 个字符 ({m})",
            super::auth::MIN_PASSWORD_CHARS
        )),
        other => other,
    }
}

/// The password: from the terminal with echo off (asked twice), or one line of stdin.
fn read_password(name: &str, lang: Lang) -> DbResult<String> {
    let zh = lang == Lang::Zh;
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| DbError::Invalid(format!("reading the password from stdin: {e}")))?;
        let pw = line.trim_end_matches(['\n', '\r']).to_string();
        if pw.is_empty() {
            return Err(DbError::Invalid(if zh {
                "标准输入没有密码：请在第一行提供密码 (expected the password as one line on stdin, found none)".to_string()
            } else {
                "expected the password as one line on stdin, found none".to_string()
            }));
        }
        return Ok(pw);
    }
    let first = prompt_hidden(&if zh {
        format!("用户 `{name}` 的新密码: ")
    } else {
        format!("new password for `{name}`: ")
    })?;
    super::auth::check_password(&first)?;
    let again = prompt_hidden(if zh { "再次输入: " } else { "again: " })?;
    if first != again {
        return Err(DbError::Invalid(if zh {
            "两次输入的密码不一致 (the passwords do not match)".to_string()
        } else {
            "the passwords do not match".to_string()
        }));
    }
    Ok(first)
}

/// Read a line from the terminal on stdin with echo off; echo is restored whatever happens.
fn prompt_hidden(prompt: &str) -> DbResult<String> {
    let io = |e: std::io::Error| DbError::Invalid(format!("reading the password: {e}"));
    let mut err = std::io::stderr();
    err.write_all(prompt.as_bytes()).map_err(io)?;
    err.flush().map_err(io)?;
    let fd = libc::STDIN_FILENO;
    // SAFETY: termios is plain data; tcgetattr fills it for a terminal fd (checked above).
    let mut term: libc::termios = unsafe { std::mem::zeroed() };
    if unsafe { libc::tcgetattr(fd, &mut term) } != 0 {
        return Err(io(std::io::Error::last_os_error()));
    }
    let saved = term;
    term.c_lflag &= !libc::ECHO;
    term.c_lflag |= libc::ECHONL;
    // SAFETY: a valid termios for the same fd.
    if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &term) } != 0 {
        return Err(io(std::io::Error::last_os_error()));
    }
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    // SAFETY: restoring the attributes read above.
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
    read.map_err(io)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_pads_columns() {
        let t = table(
            ["name", "role", "region", "created"],
            &[[
                "li".into(),
                "admin".into(),
                "杭州市 (330100)".into(),
                "2026-01-01 00:00:00".into(),
            ]],
        );
        assert_eq!(
            t,
            "name  role   region        created\nli    admin  杭州市 (330100)  2026-01-01 00:00:00"
        );
    }

    #[test]
    fn chinese_errors_keep_the_english() {
        let e = localize(DbError::UnknownUser("wang".into()), Lang::Zh);
        assert_eq!(e.to_string(), "未知用户 `wang` (unknown user)");
        assert_eq!(e.exit_code(), 2);
        let e = localize(DbError::UnknownUser("wang".into()), Lang::En);
        assert_eq!(e.to_string(), "unknown user `wang`");
    }
}
