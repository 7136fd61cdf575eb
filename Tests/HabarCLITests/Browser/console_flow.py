"""Drives the operator console in headless Chromium (Selenium), as an operator would.

Usage: console_flow.py BASE_URL NAME PASSWORD SHOTS_DIR [--no-js]
Prints one JSON object of what it saw; exits 1 on the first expectation that fails.
"""
import json
import os
import sys

os.environ.setdefault("SE_OFFLINE", "true")

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def browser(javascript, width, height):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(argument)
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def main():
    base, name, password, shots = sys.argv[1:5]
    javascript = "--no-js" not in sys.argv
    suffix = "" if javascript else "-nojs"
    seen = {"javascript": javascript}
    driver = browser(javascript, 1280, 900)
    try:
        driver.get(base + "/console/")
        seen["redirectedTo"] = driver.current_url
        assert driver.current_url.endswith("/console/login"), driver.current_url
        driver.save_screenshot(os.path.join(shots, f"console-login{suffix}.png"))
        # A wrong password first: the form says so, next to the fields.
        driver.find_element(By.ID, "name").send_keys(name)
        driver.find_element(By.ID, "password").send_keys("not the password")
        driver.find_element(By.CSS_SELECTOR, "form[action='/console/login'] button[type=submit]").click()
        seen["failure"] = driver.find_element(By.CSS_SELECTOR, "[role=alert]").text
        driver.find_element(By.ID, "password").send_keys(password)
        driver.find_element(By.CSS_SELECTOR, "form[action='/console/login'] button[type=submit]").click()
        seen["afterSignIn"] = driver.current_url
        assert driver.current_url.endswith("/console/"), driver.current_url
        seen["heading"] = driver.find_element(By.TAG_NAME, "h1").text
        seen["who"] = driver.find_element(By.CSS_SELECTOR, ".who").text
        seen["cookies"] = [{"name": c["name"], "httpOnly": c.get("httpOnly"), "sameSite": c.get("sameSite"), "secure": c.get("secure")}
                           for c in driver.get_cookies()]
        seen["advisories"] = [a.get_attribute("id") for a in driver.find_elements(By.CSS_SELECTOR, "article.advisory")]
        seen["delivered"] = [td.text for td in driver.find_elements(By.CSS_SELECTOR, "td.delivered")]
        driver.save_screenshot(os.path.join(shots, f"console-dashboard{suffix}.png"))
        # The language switch, then signing out.
        driver.find_element(By.CSS_SELECTOR, "button[name=language][value=kk]").click()
        seen["kazakhHeading"] = driver.find_element(By.TAG_NAME, "h1").text
        driver.find_element(By.CSS_SELECTOR, "form[action='/console/logout'] button").click()
        seen["afterSignOut"] = driver.current_url
        driver.get(base + "/console/")
        seen["afterSignOutDashboard"] = driver.current_url
        # A tablet in portrait: the page still fits.
        driver.set_window_size(768, 1024)
        driver.get(base + "/console/login")
        seen["tabletScrollWidth"] = driver.execute_script("return document.documentElement.scrollWidth") if javascript else None
        driver.save_screenshot(os.path.join(shots, f"console-login-tablet{suffix}.png"))
    finally:
        driver.quit()
    print(json.dumps(seen, ensure_ascii=False))


if __name__ == "__main__":
    main()
