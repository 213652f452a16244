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
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('visits', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('day', 'language'),
    )
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
    # Searches, and those with no good result for the editors' unanswered list (handoff/help_search.py).
    op.create_table(
        'help_searches',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('query', sa.String(length=200), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('hits', sa.Integer(), nullable=False),
        sa.Column('no_good_result', sa.Boolean(), nullable=False),
        sa.Column('top_topic', sa.String(length=64), nullable=True),
        sa.Column('top_score', sa.Float(), nullable=True),
        sa.Column('keyword_only', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('handled_action', sa.String(length=16), nullable=True),
        sa.Column('handled_topic', sa.String(length=200), nullable=True),
        sa.Column('handled_by', sa.Integer(), nullable=True),
        sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['handled_by'], ['agents.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_help_searches_created_at', 'help_searches', ['created_at'])
    op.create_index('ix_help_searches_unanswered', 'help_searches', ['no_good_result', 'handled_action', 'created_at'])
    # The article a bot answer links to (handoff/gateway.py).
    with op.batch_alter_table('messages') as batch:
        batch.add_column(sa.Column('article_path', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('messages') as batch:
        batch.drop_column('article_path')
    op.drop_index('ix_help_searches_unanswered', table_name='help_searches')
    op.drop_index('ix_help_searches_created_at', table_name='help_searches')
    op.drop_table('help_searches')
    op.drop_index('ix_help_votes_topic', table_name='help_votes')
    op.drop_index('ix_help_votes_created_at', table_name='help_votes')
    op.drop_table('help_votes')
    op.drop_table('help_visits')
    op.drop_table('help_article_views')
