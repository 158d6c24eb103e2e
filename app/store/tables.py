"""Tables of the consultation audit store and the ordered list of schema upgrades.

The schema version lives in ``schema_version`` (one row per applied step). ``upgrade(engine)`` applies
every step newer than the recorded version, each in its own transaction, so a store created by any
earlier release is brought forward at start-up. See ``docs/store-upgrades.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    select,
    text,
)

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", String(200), nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)


def _consultations_v1(md: MetaData) -> Table:
    """The consultations table as schema version 1 created it (frozen: later columns are appended below)."""
    return Table(
        "consultations",
        md,
        # seq orders rows for paging (cursor); consultation_id is the public identifier.
        Column(
            "seq", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True, autoincrement=True
        ),
        Column("consultation_id", String(100), nullable=False, unique=True),
        Column("hook_instance", String(200)),
        Column("request_id", String(200)),
        Column("caller_iss", String(500)),
        Column("tenant", String(200)),
        Column("patient", String(200)),
        Column("order_ref", String(200)),
        Column("order_system", String(200)),
        Column("order_code", String(100)),
        Column("status", String(40), nullable=False),
        Column("topic_id", String(100)),
        Column("topic_version", String(40)),
        Column("variant", Integer),
        Column("category", String(60)),
        Column("score", Integer),
        Column("pama_rating", String(40)),
        # JSON: [{fact, value, text, evidence}]; "" since version 3 (the reasons are in result_z).
        Column("reasons", Text, nullable=False),
        Column("criteria_version", String(100)),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("latency_ms", Float),
        # The whole result JSON as answered; "" since version 3 (then result_z holds it).
        Column("result", Text, nullable=False),
        Index("ix_consultations_patient", "patient", "seq"),
        Index("ix_consultations_order", "order_ref", "seq"),
        Index("ix_consultations_created", "created_at"),
    )


consultations = _consultations_v1(metadata)
# Version 3: the result JSON, zlib-compressed (about 40 % of its size); NULL in rows written before.
consultations.append_column(Column("result_z", LargeBinary))

feedback = Table(
    "feedback",
    metadata,
    Column("seq", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
    # sha256 of service id + canonical JSON of the feedback item: a repeated item is a duplicate.
    Column("dedup_key", String(64), nullable=False, unique=True),
    Column("service_id", String(200), nullable=False),
    Column("card_uuid", String(200), nullable=False),
    Column("outcome", String(40), nullable=False),
    Column("accepted_suggestions", Text, nullable=False),  # JSON list
    Column("override_reason", Text),  # JSON object or NULL
    Column("outcome_timestamp", String(60)),
    Column("caller_iss", String(500)),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Index("ix_feedback_card", "card_uuid"),
)

jti_seen = Table(
    "jti_seen",
    metadata,
    Column("iss", String(500), nullable=False),
    Column("jti", String(500), nullable=False),
    Column("exp", BigInteger, nullable=False),
    UniqueConstraint("iss", "jti", name="uq_jti_seen"),
    Index("ix_jti_seen_exp", "exp"),
)

# Questions asked through the question page (one row per insufficient-data CDS card with a link): the order
# and record needed to re-rate (``context``, cleared once answered or expired), then the clinician's
# answers as a QuestionnaireResponse and the consultation that re-rated the order.
questions = Table(
    "questions",
    metadata,
    Column("question_id", String(64), primary_key=True),  # random; named by the signed link token
    Column("consultation_id", String(100), nullable=False),  # the consultation that asked
    Column("patient", String(200)),
    Column("order_ref", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("context", Text),  # JSON: {order, record} while the question is open
    Column("answered_at", DateTime(timezone=True)),
    Column("answer_consultation_id", String(100)),  # the consultation that recorded the re-rated result
    Column("questionnaire_response", Text),  # JSON: the answers
    Index("ix_questions_order", "patient", "order_ref", "answered_at"),
    Index("ix_questions_consultation", "consultation_id"),
    Index("ix_questions_expires", "expires_at"),
)


def _v1_initial(conn: Connection) -> None:
    # Frozen: the version-1 shape of every table (feedback and jti_seen have not changed since; copy their
    # version-1 definitions here before changing them).
    v1 = MetaData()
    tables = [_consultations_v1(v1), feedback.to_metadata(v1), jti_seen.to_metadata(v1)]
    v1.create_all(conn, tables=tables)


def _v3_compressed_result(conn: Connection) -> None:
    blob = LargeBinary().compile(dialect=conn.dialect)
    conn.execute(text(f"ALTER TABLE consultations ADD COLUMN result_z {blob}"))


def _v2_questions(conn: Connection) -> None:
    metadata.create_all(conn, tables=[questions])


# Ordered upgrade steps: (version, description, function). Append only; never edit a released step.
UPGRADES: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "consultations, feedback, jti_seen", _v1_initial),
    (2, "questions (question page: answers as QuestionnaireResponse)", _v2_questions),
    (3, "consultations.result_z: the result JSON compressed", _v3_compressed_result),
]

CURRENT_VERSION = UPGRADES[-1][0]
_UPGRADE_LOCK_KEY = 0x5A1E_A0C1  # any constant; names the advisory lock of schema upgrades


def current_version(conn: Connection) -> int:
    """The highest applied schema version (0 for an empty database)."""
    value = conn.execute(select(func.max(schema_version.c.version))).scalar()
    return int(value or 0)


def upgrade(engine: Engine) -> int:
    """Create the version table and apply every pending step in one transaction; returns the version.

    Concurrent starters (several gunicorn workers on a fresh database) are serialized: SQLite takes the
    write lock up front (``BEGIN IMMEDIATE``), PostgreSQL a transaction-scoped advisory lock. The
    second starter then finds the work done.
    """
    with engine.connect() as conn:
        conn.execution_options(sqlite_immediate=True)
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK_KEY})
            metadata.create_all(conn, tables=[schema_version])
            version = current_version(conn)
            for step_version, description, step in UPGRADES:
                if step_version <= version:
                    continue
                step(conn)
                conn.execute(
                    schema_version.insert().values(
                        version=step_version, description=description, applied_at=datetime.now(UTC)
                    )
                )
            version = current_version(conn)
    if version > CURRENT_VERSION:
        raise RuntimeError(
            f"store schema version {version} is newer than this release understands ({CURRENT_VERSION})"
        )
    return version
