"""metric_counters (running totals for /metrics, backfilled from metric_events) and stream_tickets
(single-use passes that open a customer's event stream)

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'metric_counters',
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('label', sa.String(length=200), nullable=False),
        sa.Column('count', sa.BigInteger(), nullable=False),
        sa.Column('total', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('name', 'label'),
    )
    # The totals of every event recorded before the counters existed.
    op.execute(
        "INSERT INTO metric_counters (name, label, count, total) "
        "SELECT name, COALESCE(label, ''), COUNT(*), COALESCE(SUM(value), 0) FROM metric_events "
        "GROUP BY name, COALESCE(label, '')"
    )
    op.create_table(
        'stream_tickets',
        sa.Column('ticket_hash', sa.String(length=64), nullable=False),
        sa.Column('conversation_id', sa.String(length=32), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('ticket_hash'),
    )
    op.create_index('ix_stream_tickets_expires_at', 'stream_tickets', ['expires_at'])


def downgrade() -> None:
    op.drop_index('ix_stream_tickets_expires_at', table_name='stream_tickets')
    op.drop_table('stream_tickets')
    op.drop_table('metric_counters')
