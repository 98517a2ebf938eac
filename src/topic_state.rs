//! The signal topic state machine (EU GVP Module IX) and its vocabulary: pure, no
//! database. The review database (`review_db`, which re-exports this as `review_db::state`)
//! enforces it; the batch (`decisions`) reads topics in these terms.
//!
//! ```text
//! new -> validation -> validated -> assessment -> closed
//!                   \-> not_validated ----------> closed
//! ```
//!
//! Closing needs an outcome; no other transition takes one. `closed` is final.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a topic stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    New,
    Validation,
    Validated,
    NotValidated,
    Assessment,
    Closed,
}

/// How a closed topic ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Not a signal (the association is refuted).
    Refuted,
    /// The risk is in the product's label already.
    Labelled,
    /// A known risk (literature, other products), not necessarily in this label.
    Known,
    /// Keep monitoring.
    Monitor,
    /// Action recommended: a label change, a referral to NMPA.
    ActionRecommended,
}

/// A transition the state machine does not allow (HTTP 422).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("a topic in state `{from}` cannot move to `{to}` (allowed: {allowed})")]
    NotAllowed {
        from: State,
        to: State,
        allowed: String,
    },
    #[error("closing a topic needs an outcome (one of {})", Outcome::list())]
    OutcomeRequired,
    #[error("only closing takes an outcome; moving to `{to}` found outcome `{outcome}`")]
    OutcomeNotAllowed { to: State, outcome: Outcome },
}

impl State {
    pub const ALL: [State; 6] = [
        State::New,
        State::Validation,
        State::Validated,
        State::NotValidated,
        State::Assessment,
        State::Closed,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            State::New => "new",
            State::Validation => "validation",
            State::Validated => "validated",
            State::NotValidated => "not_validated",
            State::Assessment => "assessment",
            State::Closed => "closed",
        }
    }

    /// The Chinese label, in the regulators' words.
    pub fn label_zh(&self) -> &'static str {
        match self {
            State::New => "新建",
            State::Validation => "验证中",
            State::Validated => "已验证",
            State::NotValidated => "未验证为信号",
            State::Assessment => "评价中",
            State::Closed => "已结案",
        }
    }

    /// The state named `s` (`not_validated`), if any.
    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The states this one may move to.
    pub fn next(&self) -> &'static [State] {
        match self {
            State::New => &[State::Validation],
            State::Validation => &[State::Validated, State::NotValidated],
            State::Validated => &[State::Assessment],
            State::NotValidated => &[State::Closed],
            State::Assessment => &[State::Closed],
            State::Closed => &[],
        }
    }

    /// Whether the topic is still being worked on.
    pub fn is_open(&self) -> bool {
        *self != State::Closed
    }

    /// Check a transition to `to`, with the outcome it carries.
    pub fn transition(self, to: State, outcome: Option<Outcome>) -> Result<State, TransitionError> {
        if !self.next().contains(&to) {
            let allowed = if self.next().is_empty() {
                "none, the topic is closed".to_string()
            } else {
                self.next()
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(TransitionError::NotAllowed {
                from: self,
                to,
                allowed,
            });
        }
        match (to, outcome) {
            (State::Closed, None) => Err(TransitionError::OutcomeRequired),
            (State::Closed, Some(_)) => Ok(to),
            (_, Some(outcome)) => Err(TransitionError::OutcomeNotAllowed { to, outcome }),
            (_, None) => Ok(to),
        }
    }
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::Refuted,
        Outcome::Labelled,
        Outcome::Known,
        Outcome::Monitor,
        Outcome::ActionRecommended,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Refuted => "refuted",
            Outcome::Labelled => "labelled",
            Outcome::Known => "known",
            Outcome::Monitor => "monitor",
            Outcome::ActionRecommended => "action_recommended",
        }
    }

    /// The Chinese label, in the regulators' words.
    pub fn label_zh(&self) -> &'static str {
        match self {
            Outcome::Refuted => "排除（非信号）",
            Outcome::Labelled => "说明书已载明",
            Outcome::Known => "已知风险",
            Outcome::Monitor => "继续监测",
            Outcome::ActionRecommended => "建议采取措施",
        }
    }

    /// The outcome named `s` (`action_recommended`), if any.
    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// Whether a topic closed with this outcome keeps the next batches silent about its
    /// signal until the evidence grows past the reopen rule: `refuted` and `labelled`
    /// (see `decisions` for why `known` does not).
    pub fn silences_signal(&self) -> bool {
        matches!(self, Outcome::Refuted | Outcome::Labelled)
    }

    fn list() -> String {
        Outcome::ALL
            .iter()
            .map(|o| format!("`{o}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state or outcome name that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected one of {expected}, found `{found}`")]
pub struct UnknownName {
    pub expected: String,
    pub found: String,
}

impl FromStr for State {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<State, UnknownName> {
        State::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| UnknownName {
                expected: State::ALL
                    .iter()
                    .map(|x| format!("`{x}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                found: s.to_string(),
            })
    }
}

impl FromStr for Outcome {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Outcome, UnknownName> {
        Outcome::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| UnknownName {
                expected: Outcome::list(),
                found: s.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_gvp_paths_are_allowed() {
        let s = State::New;
        let s = s.transition(State::Validation, None).unwrap();
        let v = s.transition(State::Validated, None).unwrap();
        let a = v.transition(State::Assessment, None).unwrap();
        assert_eq!(
            a.transition(State::Closed, Some(Outcome::ActionRecommended)),
            Ok(State::Closed)
        );
        let n = s.transition(State::NotValidated, None).unwrap();
        assert_eq!(
            n.transition(State::Closed, Some(Outcome::Refuted)),
            Ok(State::Closed)
        );
    }

    #[test]
    fn skipping_a_step_is_refused_with_the_allowed_states() {
        let e = State::New
            .transition(State::Closed, Some(Outcome::Refuted))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "a topic in state `new` cannot move to `closed` (allowed: `validation`)"
        );
        let e = State::Validated
            .transition(State::Closed, Some(Outcome::Known))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "a topic in state `validated` cannot move to `closed` (allowed: `assessment`)"
        );
        let e = State::Closed
            .transition(State::Validation, None)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "a topic in state `closed` cannot move to `validation` (allowed: none, the topic is closed)"
        );
    }

    #[test]
    fn outcomes_only_on_closing() {
        assert_eq!(
            State::Assessment.transition(State::Closed, None),
            Err(TransitionError::OutcomeRequired)
        );
        assert_eq!(
            State::Validation
                .transition(State::Validated, Some(Outcome::Monitor))
                .unwrap_err()
                .to_string(),
            "only closing takes an outcome; moving to `validated` found outcome `monitor`"
        );
    }

    #[test]
    fn names_round_trip_and_unknown_names_say_what_was_expected() {
        for s in State::ALL {
            assert_eq!(s.as_str().parse::<State>(), Ok(s));
        }
        for o in Outcome::ALL {
            assert_eq!(o.as_str().parse::<Outcome>(), Ok(o));
        }
        assert_eq!(
            "done".parse::<State>().unwrap_err().to_string(),
            "expected one of `new`, `validation`, `validated`, `not_validated`, `assessment`, `closed`, found `done`"
        );
        assert!("Refuted".parse::<Outcome>().is_err());
    }

    fn any_state() -> impl Strategy<Value = State> {
        prop::sample::select(State::ALL.to_vec())
    }
    fn any_outcome() -> impl Strategy<Value = Option<Outcome>> {
        prop::option::of(prop::sample::select(Outcome::ALL.to_vec()))
    }

    proptest! {
        /// Any sequence of attempted moves: the state only ever goes forward along the
        /// GVP order, reaches `closed` only with an outcome, and never leaves `closed`.
        #[test]
        fn walks_only_move_forward(steps in prop::collection::vec((any_state(), any_outcome()), 0..40)) {
            let rank = |s: State| match s {
                State::New => 0,
                State::Validation => 1,
                State::Validated | State::NotValidated => 2,
                State::Assessment => 3,
                State::Closed => 4,
            };
            let mut s = State::New;
            for (to, outcome) in steps {
                match s.transition(to, outcome) {
                    Ok(next) => {
                        prop_assert!(rank(next) > rank(s));
                        prop_assert!(s.next().contains(&next));
                        prop_assert_eq!(next == State::Closed, outcome.is_some());
                        s = next;
                    }
                    Err(_) => {
                        prop_assert!(!s.next().contains(&to) || (to == State::Closed) != outcome.is_some());
                    }
                }
            }
            if s == State::Closed {
                for to in State::ALL {
                    prop_assert!(s.transition(to, Some(Outcome::Known)).is_err());
                }
            }
        }
    }
}
