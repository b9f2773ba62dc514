//! The sprint board in one place: its read model (`state`) and the live hub that hands every
//! watcher the new state after each change (`hub`). Writes to the board are use cases of
//! `service::board`; they tell the hub through `service::Effects`.

pub mod hub;
pub mod state;

pub use hub::BoardHub;
pub use state::{
    BoardCard, BoardState, SlotBody, board_state, board_state_by_id, by_day, slot_body,
};
