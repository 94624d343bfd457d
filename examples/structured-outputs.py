"""Structured output with the official call shape: a JSON schema as format, then decoding.

structured-parsing.py shows the shorter form, format=<type> and reply.parse(<type>).
"""

import msgspec

import ollama_anyio as ollama


class FriendInfo(msgspec.Struct):
    name: str
    age: int
    is_available: bool


class FriendList(msgspec.Struct):
    friends: list[FriendInfo]


schema = msgspec.json.schema(FriendList)
response = ollama.chat(
    "llama3.2",
    messages=[
        {
            "role": "user",
            "content": "I have two friends: Ana, 23, free today, and Bo, 31, busy. Return JSON.",
        }
    ],
    format=schema,
    options={"temperature": 0},
)
friends = msgspec.json.decode(response.message.content, type=FriendList, strict=False)
for friend in friends.friends:
    print(f"{friend.name}: {friend.age}, available={friend.is_available}")
