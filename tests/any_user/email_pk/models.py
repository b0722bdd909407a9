"""A user whose primary key is the e-mail address (issue 12, problem 9)."""

from django.contrib.auth.models import AbstractBaseUser, PermissionsMixin
from django.db import models

from tests.any_user.managers import EmailUserManager


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(primary_key=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    objects = EmailUserManager()
