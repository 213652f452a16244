"""agents' presence, SLA clocks, NPS and assist suggestions (issue 19)

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    _upgrade_assist_and_nps()
    _upgrade_presence()


def downgrade() -> None:
    _downgrade_presence()
    _downgrade_assist_and_nps()


# Answers at the agent's hand and NPS (issue 19, items 1 and 4).

def _upgrade_assist_and_nps() -> None:
    op.add_column('conversations', sa.Column('nps', sa.Integer(), nullable=True))
    op.add_column('conversations', sa.Column('nps_comment', sa.Text(), nullable=True))
    # The agent's own reply to a question flagged agent_answered, shown to the editors.
    op.add_column('question_flags', sa.Column('reply_message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                                              nullable=True))
    op.create_table(
        'assist_suggestions',
        sa.Column('message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), sa.ForeignKey('messages.id'),
                  nullable=False),
        sa.Column('topic', sa.String(length=200), nullable=False),
        sa.Column('conversation_id', sa.String(length=32), nullable=False),
        sa.Column('rank', sa.Integer(), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('shown_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=True),
        sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('message_id', 'topic'),
    )
    op.create_index('ix_assist_suggestions_conversation', 'assist_suggestions', ['conversation_id', 'outcome'])


def _downgrade_assist_and_nps() -> None:
    op.drop_index('ix_assist_suggestions_conversation', table_name='assist_suggestions')
    op.drop_table('assist_suggestions')
    op.drop_column('question_flags', 'reply_message_id')
    op.drop_column('conversations', 'nps_comment')
    op.drop_column('conversations', 'nps')


# Presence and assignment (issue 19, item 2); the SLA clocks are computed from the conversation's
# own times (handoff/sla.py) and need no column.

def _upgrade_presence() -> None:
    with op.batch_alter_table('agents') as batch:
        batch.add_column(sa.Column('presence', sa.String(length=8), nullable=False, server_default='offline'))
        batch.add_column(sa.Column('presence_seen_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('last_assigned_at', sa.DateTime(timezone=True), nullable=True))


def _downgrade_presence() -> None:
    with op.batch_alter_table('agents') as batch:
        batch.drop_column('last_assigned_at')
        batch.drop_column('presence_seen_at')
        batch.drop_column('presence')
