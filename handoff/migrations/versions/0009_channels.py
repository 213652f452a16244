"""channels: a conversation's channel and address, the outbox, processed webhook events (issue 17)

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The channel layer and the outbox (handoff/channels/__init__.py, handoff/outbox.py).
    with op.batch_alter_table('conversations') as batch:
        batch.add_column(sa.Column('channel', sa.String(length=16), nullable=False, server_default='web'))
        batch.add_column(sa.Column('channel_address', sa.String(length=254), nullable=True))
        batch.add_column(sa.Column('customer_name', sa.String(length=200), nullable=True))
    op.create_index('ix_conversations_channel_address', 'conversations', ['channel', 'channel_address', 'status'])
    op.create_table(
        'outbox',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('conversation_id', sa.String(length=32), nullable=True),
        sa.Column('queue_key', sa.String(length=254), nullable=True),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('idempotency_key', sa.String(length=200), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('idempotency_key'),
    )
    op.create_index('ix_outbox_due', 'outbox', ['status', 'next_attempt_at'])
    op.create_index('ix_outbox_queue', 'outbox', ['queue_key', 'status', 'id'])
    op.create_index('ix_outbox_conversation', 'outbox', ['conversation_id'])
    op.create_table(
        'channel_events',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('external_id', sa.String(length=200), nullable=False),
        sa.Column('queue_key', sa.String(length=254), nullable=True),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('channel', 'external_id', name='uq_channel_events_external_id'),
    )
    op.create_index('ix_channel_events_due', 'channel_events', ['status', 'next_attempt_at'])
    op.create_index('ix_channel_events_queue', 'channel_events', ['queue_key', 'status', 'id'])
    # The e-mail channel's Message-IDs, bounces and auto-replies (handoff/channels/email.py).
    op.create_table(
        'email_messages',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('message_id', sa.String(length=255), nullable=False),
        sa.Column('direction', sa.String(length=3), nullable=False),
        sa.Column('conversation_id', sa.String(length=32), nullable=True),
        sa.Column('transcript_message_id', sa.BigInteger(), nullable=True),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('address', sa.String(length=254), nullable=True),
        sa.Column('subject', sa.String(length=300), nullable=True),
        sa.Column('detail', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('message_id'),
    )
    op.create_index('ix_email_messages_conversation', 'email_messages', ['conversation_id', 'id'])


def downgrade() -> None:
    op.drop_index('ix_email_messages_conversation', table_name='email_messages')
    op.drop_table('email_messages')
    op.drop_index('ix_channel_events_queue', table_name='channel_events')
    op.drop_index('ix_channel_events_due', table_name='channel_events')
    op.drop_table('channel_events')
    op.drop_index('ix_outbox_conversation', table_name='outbox')
    op.drop_index('ix_outbox_queue', table_name='outbox')
    op.drop_index('ix_outbox_due', table_name='outbox')
    op.drop_table('outbox')
    op.drop_index('ix_conversations_channel_address', table_name='conversations')
    with op.batch_alter_table('conversations') as batch:
        batch.drop_column('customer_name')
        batch.drop_column('channel_address')
        batch.drop_column('channel')
