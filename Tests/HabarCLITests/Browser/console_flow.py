"""Drives the operator console in headless Chromium (Selenium), as an operator would.

Usage: console_flow.py BASE_URL NAME PASSWORD SHOTS_DIR [--no-js]
Prints one JSON object of what it saw; exits 1 on the first expectation that fails.
"""
import json
import os
import sys
import time

os.environ.setdefault("SE_OFFLINE", "true")

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait


def replaced(page):
    """A wait condition: `page` (an element of the old document) is gone. Chromium 156 answers
    a node of a replaced document with "does not belong to the document", not as stale."""
    def gone(_driver):
        try:
            page.is_enabled()
            return False
        except WebDriverException as error:
            if isinstance(error, StaleElementReferenceException) or "does not belong to the document" in str(error):
                return True
            raise
    return gone


def submit(driver, selector):
    """Clicks a submit button and waits for the next page to replace this one."""
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, selector).click()
    WebDriverWait(driver, 15).until(replaced(page))
    WebDriverWait(driver, 15).until(expected_conditions.presence_of_element_located((By.TAG_NAME, "main")))


def browser(javascript, width, height):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(argument)
    # An HQ workstation set to Russian: the sign-in page follows Accept-Language.
    options.add_argument("--lang=ru")
    prefs = {"intl.accept_languages": "ru,kk"}
    if not javascript:
        prefs["profile.managed_default_content_settings.javascript"] = 2
    options.add_experimental_option("prefs", prefs)
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
        submit(driver, "form[action='/console/login'] button[type=submit]")
        seen["failure"] = driver.find_element(By.CSS_SELECTOR, "[role=alert]").text
        driver.find_element(By.ID, "password").send_keys(password)
        submit(driver, "form[action='/console/login'] button[type=submit]")
        seen["afterSignIn"] = driver.current_url
        assert driver.current_url.endswith("/console/"), driver.current_url
        seen["heading"] = driver.find_element(By.TAG_NAME, "h1").text
        seen["who"] = driver.find_element(By.CSS_SELECTOR, ".who").text
        seen["cookies"] = [{"name": c["name"], "httpOnly": c.get("httpOnly"), "sameSite": c.get("sameSite"), "secure": c.get("secure")}
                           for c in driver.get_cookies()]
        seen["advisories"] = [a.get_attribute("id") for a in driver.find_elements(By.CSS_SELECTOR, "article.advisory")]
        # The stub reports deliveries a moment later: reloading (the page without script) until all are in.
        def texts(selector):
            for _ in range(20):
                try:
                    return [element.text for element in driver.find_elements(By.CSS_SELECTOR, selector)]
                except WebDriverException:
                    time.sleep(0.1)  # the page was being replaced
            return []
        seen["deliveredAtFirst"] = texts("td.delivered")
        if javascript:
            # Live: the page is never reloaded; Server-Sent Events fill the cells in.
            driver.execute_script("window.habarSameLoad = true")
            try:
                WebDriverWait(driver, 30).until(lambda d: texts("td.delivered") == ["3"] and texts(".percent") == ["100%"]
                                                and d.execute_script("return document.body.hasAttribute('data-live-updated')"))
            except Exception:
                pass
            seen["sameLoad"] = driver.execute_script("return window.habarSameLoad === true")
            seen["liveUpdated"] = driver.execute_script("return document.body.hasAttribute('data-live-updated')")
        else:
            for _ in range(120):
                if texts("td.delivered") == ["3"] and texts(".percent") == ["100%"]:
                    break
                time.sleep(0.25)
                driver.get(base + "/console/")
        seen["delivered"] = texts("td.delivered")
        seen["percent"] = texts(".percent")
        driver.save_screenshot(os.path.join(shots, f"console-dashboard{suffix}.png"))
        # The advisory's own page: the texts as citizens got them, with their SMS encoding.
        page = driver.find_element(By.TAG_NAME, "html")
        driver.find_element(By.CSS_SELECTOR, "article.advisory h3 a").click()
        WebDriverWait(driver, 15).until(replaced(page))
        seen["advisoryState"] = texts("dd.state")
        seen["encodings"] = texts("span.encoding")
        driver.save_screenshot(os.path.join(shots, f"console-advisory{suffix}.png"))
        driver.get(base + "/console/")
        # The language switch, then signing out.
        submit(driver, "button[name=language][value=kk]")
        seen["kazakhHeading"] = driver.find_element(By.TAG_NAME, "h1").text
        submit(driver, "form[action='/console/logout'] button")
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
