"""question_flags and handled_questions: the editors' unanswered questions

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('question_flags',
    sa.Column('id', BigId, nullable=False),
    sa.Column('message_id', BigId, nullable=False),
    sa.Column('conversation_id', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_id', 'reason', name='uq_question_flags_message_reason')
    )
    with op.batch_alter_table('question_flags', schema=None) as batch_op:
        batch_op.create_index('ix_question_flags_created', ['created_at'], unique=False)

    op.create_table('handled_questions',
    sa.Column('message_id', BigId, nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=True),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('handled_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], ),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], ),
    sa.PrimaryKeyConstraint('message_id')
    )


def downgrade() -> None:
    op.drop_table('handled_questions')
    with op.batch_alter_table('question_flags', schema=None) as batch_op:
        batch_op.drop_index('ix_question_flags_created')
    op.drop_table('question_flags')
