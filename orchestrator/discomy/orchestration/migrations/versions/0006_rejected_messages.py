"""Rejected messages: what the listeners could not take, kept for a person to read.

``rejected_messages``: every message that was not a koji event, or whose
handling failed for a reason of its own (not a store outage), with its body as
received, its routing key or address, its message id and properties, why it
was refused, and at which stage (``malformed`` or ``unhandled``). The broker
forgets such a message once it is rejected; this is where it stays.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rejected_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.Float(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('topic', sa.Text(), nullable=False),
    sa.Column('msg_id', sa.Text(), nullable=True),
    sa.Column('stage', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('properties', sa.Text(), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('rejected_messages')
