-- The organisation read model (projection `teams`): departments, teams, their members.
CREATE TABLE department_view (
    id            uuid        PRIMARY KEY,
    name          text        NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    last_sequence bigint      NOT NULL
);

CREATE TABLE team_view (
    id            uuid        PRIMARY KEY,
    name          text        NOT NULL,
    department_id uuid        NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    last_sequence bigint      NOT NULL
);
CREATE INDEX ON team_view (department_id, name);

CREATE TABLE team_members (
    team_id  uuid        NOT NULL,
    user_id  uuid        NOT NULL,
    manager  boolean     NOT NULL,
    added_at timestamptz NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX ON team_members (user_id);
