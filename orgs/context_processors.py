from orgs.selectors import organizations_for_user


def current_organization(request) -> dict:
    """The header's organization switcher: the caller's organizations and the current one."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    organizations = list(organizations_for_user(user))
    slug = request.session.get("current_organization")
    current = next((o for o in organizations if o.slug == slug), organizations[0] if organizations else None)
    return {"my_organizations": organizations, "current_organization": current}
