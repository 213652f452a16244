"""known customers: contacts, identities, notes, erasure log (issue 18)

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    # -- contacts (18a): known customers, their addresses and the agents' notes about them
    op.create_table('contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shop_customer_id', sa.String(length=200), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('shop_customer_id')
    )
    op.create_table('contact_identities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('value', sa.String(length=320), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], ),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'value', name='uq_contact_identities_kind_value')
    )
    op.create_index('ix_contact_identities_contact_id', 'contact_identities', ['contact_id'], unique=False)
    op.create_table('contact_notes',
    sa.Column('id', BigId, nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], ),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_contact_notes_contact_id', 'contact_notes', ['contact_id'], unique=False)
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('contact_verified', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_conversations_contact_id', ['contact_id'], unique=False)
        batch_op.create_foreign_key('fk_conversations_contact_id', 'contacts', ['contact_id'], ['id'])
    # -- end contacts (18a)


def downgrade() -> None:
    # -- contacts (18a)
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_constraint('fk_conversations_contact_id', type_='foreignkey')
        batch_op.drop_index('ix_conversations_contact_id')
        batch_op.drop_column('erased_at')
        batch_op.drop_column('contact_verified')
        batch_op.drop_column('contact_id')
    op.drop_index('ix_contact_notes_contact_id', table_name='contact_notes')
    op.drop_table('contact_notes')
    op.drop_index('ix_contact_identities_contact_id', table_name='contact_identities')
    op.drop_table('contact_identities')
    op.drop_table('contacts')
    # -- end contacts (18a)
