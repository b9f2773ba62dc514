// The tables of migrations/*, described for diesel. Kept by hand in step with both trees.

diesel::table! {
    events (id) {
        id -> BigInt,
        slug -> Text,
        kind -> Text,
        title -> Text,
        summary -> Text,
        description -> Text,
        timezone -> Text,
        all_day -> Bool,
        starts_local -> Timestamp,
        ends_local -> Timestamp,
        starts_at -> Timestamp,
        ends_at -> Timestamp,
        venue -> Text,
        address -> Text,
        online_url -> Nullable<Text>,
        capacity -> Nullable<Integer>,
        going_count -> Integer,
        waitlist_seq -> BigInt,
        signup_opens_at -> Nullable<Timestamp>,
        signup_closes_at -> Nullable<Timestamp>,
        status -> Text,
        revision -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        uid -> Text,
        reminder_offsets -> Nullable<Text>,
        contact_name -> Text,
        contact_email -> Nullable<Text>,
        latitude -> Nullable<Double>,
        longitude -> Nullable<Double>,
        published_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    projects (id) {
        id -> BigInt,
        event_id -> BigInt,
        slug -> Text,
        name -> Text,
        description -> Text,
        repository_url -> Nullable<Text>,
        notes_url -> Nullable<Text>,
        location -> Text,
        capacity -> Nullable<Integer>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        uid -> Text,
        revision -> Integer,
        now_line -> Text,
        next_line -> Text,
        board_updated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    project_leads (id) {
        id -> BigInt,
        project_id -> BigInt,
        position -> Integer,
        name -> Text,
        email -> Nullable<Text>,
    }
}

diesel::table! {
    registrations (id) {
        id -> BigInt,
        event_id -> BigInt,
        name -> Text,
        email -> Text,
        email_normalized -> Text,
        status -> Text,
        waitlist_seq -> Nullable<BigInt>,
        manage_nonce -> Text,
        manage_token_hash -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        muted -> Bool,
        show_name -> Bool,
    }
}

diesel::table! {
    registration_projects (registration_id, project_id) {
        registration_id -> BigInt,
        project_id -> BigInt,
    }
}

diesel::table! {
    organizers (id) {
        id -> BigInt,
        email -> Text,
        email_normalized -> Text,
        name -> Text,
        password_hash -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        organizer_id -> BigInt,
        token_hash -> Text,
        label -> Text,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        message_id -> Text,
        kind -> Text,
        event_id -> Nullable<BigInt>,
        registration_id -> Nullable<BigInt>,
        recipient -> Text,
        payload -> Text,
        dedupe_key -> Nullable<Text>,
        created_at -> Timestamp,
        available_at -> Timestamp,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        claimed_by -> Nullable<Text>,
        claimed_until -> Nullable<Timestamp>,
        sent_at -> Nullable<Timestamp>,
        failed_at -> Nullable<Timestamp>,
        skipped_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    attendees (id) {
        id -> BigInt,
        email_normalized -> Text,
        feed_nonce -> Text,
        feed_token_hash -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        feed_alarm_minutes -> Nullable<Integer>,
    }
}

diesel::table! {
    mail_budgets (mailbox) {
        mailbox -> Text,
        hour_started_at -> Timestamp,
        hour_count -> Integer,
        day_started_at -> Timestamp,
        day_count -> Integer,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        token_hash -> Text,
        organizer_id -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    lead_links (id) {
        id -> BigInt,
        project_id -> BigInt,
        email -> Text,
        email_normalized -> Text,
        name -> Text,
        nonce -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    slots (id) {
        id -> BigInt,
        event_id -> BigInt,
        project_id -> BigInt,
        uid -> Text,
        title -> Text,
        room -> Text,
        starts_at -> Timestamp,
        ends_at -> Timestamp,
        revision -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    checkins (id) {
        id -> BigInt,
        registration_id -> BigInt,
        project_id -> BigInt,
        checked_in_at -> Timestamp,
        expires_at -> Timestamp,
        checked_out_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(lead_links -> projects (project_id));
diesel::joinable!(slots -> projects (project_id));
diesel::joinable!(checkins -> projects (project_id));
diesel::joinable!(checkins -> registrations (registration_id));
diesel::joinable!(projects -> events (event_id));
diesel::joinable!(sessions -> organizers (organizer_id));
diesel::joinable!(project_leads -> projects (project_id));
diesel::joinable!(registrations -> events (event_id));
diesel::joinable!(registration_projects -> registrations (registration_id));
diesel::joinable!(registration_projects -> projects (project_id));
diesel::joinable!(api_tokens -> organizers (organizer_id));

diesel::allow_tables_to_appear_in_same_query!(
    events,
    projects,
    project_leads,
    registrations,
    registration_projects,
    organizers,
    api_tokens,
    outbox,
    attendees,
    sessions,
    lead_links,
    slots,
    checkins,
);
