"""help center: article views, searches and helpfulness votes (issue 16)

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Page views, visits and votes (handoff/help_center.py).
    op.create_table(
        'help_article_views',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('topic', sa.String(length=64), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('views', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('day', 'topic', 'language'),
    )
    op.create_table(
        'help_visits',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_help_visits_started_at', 'help_visits', ['started_at'])
    op.create_table(
        'help_votes',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('topic', sa.String(length=64), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('helpful', sa.Boolean(), nullable=False),
        sa.Column('comment', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_help_votes_created_at', 'help_votes', ['created_at'])
    op.create_index('ix_help_votes_topic', 'help_votes', ['topic'])
    # The article a bot answer links to (handoff/gateway.py).
    with op.batch_alter_table('messages') as batch:
        batch.add_column(sa.Column('article_path', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('messages') as batch:
        batch.drop_column('article_path')
    op.drop_index('ix_help_votes_topic', table_name='help_votes')
    op.drop_index('ix_help_votes_created_at', table_name='help_votes')
    op.drop_table('help_votes')
    op.drop_index('ix_help_visits_started_at', table_name='help_visits')
    op.drop_table('help_visits')
    op.drop_table('help_article_views')
