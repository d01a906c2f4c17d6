"""The admin's form for a bureau's notification setting: the DingTalk secrets are written, never shown back."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import NotificationSetting

SECRET_FIELDS = ("secret", "app_secret")


class NotificationSettingForm(forms.ModelForm):
    """A secret field is empty on the page whatever is stored; left empty it keeps the stored value, and its
    "remove" box clears it (a robot secured by keywords or addresses instead of signing has none)."""

    webhook_url = forms.URLField(  # declared for its scheme: a robot's address is https
        label=NotificationSetting._meta.get_field("webhook_url").verbose_name, max_length=500, required=False, assume_scheme="https"
    )
    secret_clear = forms.BooleanField(label=_("Remove the stored signing secret"), required=False)
    app_secret_clear = forms.BooleanField(label=_("Remove the stored app secret"), required=False)

    class Meta:
        model = NotificationSetting
        fields = ("bureau", "channel", "enabled", "webhook_url", "secret", "corp_id", "agent_id", "app_key", "app_secret")
        widgets = {name: forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}) for name in SECRET_FIELDS}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in SECRET_FIELDS:
            stored = bool(self.instance.pk and getattr(self.instance, name))
            self.fields[name].help_text = _("Stored; leave empty to keep it.") if stored else _("Not set.")

    def clean(self):
        cleaned = super().clean()
        for name in SECRET_FIELDS:
            if cleaned.get(f"{name}_clear"):
                cleaned[name] = ""
            elif not cleaned.get(name):
                cleaned[name] = getattr(self.instance, name, "") if self.instance.pk else ""
            setattr(self.instance, name, cleaned[name])
        return cleaned
