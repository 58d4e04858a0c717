"""The tag service's errors, with Kill Bill's exception classes, codes (killbill-api `ErrorCode.java`) and the
statuses of its mappers (`TagDefinitionApiExceptionMapper`: 3900/3901 → 409, 3902 → 404, else 400;
`TagApiExceptionMapper`: 3950 → 404, else 400)."""

from __future__ import annotations

from billow.core.errors import BillowError, Conflict, InvalidInput, NotFound
from billow.core.objects import ObjectType

TAG_DEFINITION_EXCEPTION = "org.killbill.billing.util.api.TagDefinitionApiException"
TAG_EXCEPTION = "org.killbill.billing.util.api.TagApiException"
ILLEGAL_STATE = "java.lang.IllegalStateException"

TAG_DEFINITION_ALREADY_EXISTS = 3901
TAG_DEFINITION_DOES_NOT_EXIST = 3902
TAG_DEFINITION_IN_USE = 3903
TAG_DEFINITION_HAS_UPPERCASE = 3904
TAG_DOES_NOT_EXIST = 3950
TAG_CANNOT_BE_REMOVED = 3951
TAG_IS_SYSTEM = 3953


def definition_has_uppercase(name: str) -> BillowError:
    return InvalidInput(f"The tag definition name must be in lowercase {name}", code=TAG_DEFINITION_HAS_UPPERCASE,
                        class_name=TAG_DEFINITION_EXCEPTION)


def definition_exists(name: str) -> BillowError:
    # Kill Bill's format string ends with a space
    return Conflict(f"The tag definition {name} already exists ", code=TAG_DEFINITION_ALREADY_EXISTS,
                    class_name=TAG_DEFINITION_EXCEPTION)


def definition_not_found(definition_id: str) -> BillowError:
    return NotFound(f"The tag definition {definition_id} does not exist", code=TAG_DEFINITION_DOES_NOT_EXIST,
                    class_name=TAG_DEFINITION_EXCEPTION)


def definition_in_use(definition_id: str) -> BillowError:
    return InvalidInput(f"The tag definition {definition_id} is currently in use", code=TAG_DEFINITION_IN_USE,
                        class_name=TAG_DEFINITION_EXCEPTION)


def unknown_definition_of_tag(definition_id: str) -> BillowError:
    """Adding or removing a tag of an unknown definition: the same code, raised as a TagApiException (400)."""
    return InvalidInput(f"The tag definition {definition_id} does not exist", code=TAG_DEFINITION_DOES_NOT_EXIST,
                        class_name=TAG_EXCEPTION)


def tag_not_found(definition_name: str) -> BillowError:
    return NotFound(f"The tag does not exist (name: {definition_name})", code=TAG_DOES_NOT_EXIST,
                    class_name=TAG_EXCEPTION)


def tag_is_system(definition_id: str) -> BillowError:
    return InvalidInput(f"Cannot add the system tag {definition_id} (reserved to Kill Bill internal system)",
                        code=TAG_IS_SYSTEM, class_name=TAG_EXCEPTION)


def tag_cannot_be_removed(definition_name: str, reason: str) -> BillowError:
    return InvalidInput(f"The tag {definition_name} cannot be removed because {reason}", code=TAG_CANNOT_BE_REMOVED,
                        class_name=TAG_EXCEPTION)


def control_tag_not_applicable(definition_name: str, object_type: ObjectType) -> BillowError:
    """`DefaultTagDao.validateApplicableObjectTypes`. Kill Bill throws a bare IllegalStateException (500, a
    TODO there for a proper code); a caller's mistake is a 400 here, with Kill Bill's class and message."""
    return InvalidInput(f"Invalid control tag '{definition_name}' for object type '{object_type.value}'",
                        class_name=ILLEGAL_STATE)
